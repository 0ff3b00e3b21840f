import Foundation
import TokenKeeper

#if canImport(Glibc)
    import Glibc
#endif

/// `--load-host SCHEDULE OUTPUT`: one "web host" of the load test (``LoadTestBenchmark``), a process of
/// its own with its own `TokenAccess` (and so its own pool of store sessions).
///
/// SCHEDULE is a file of lines `offset-seconds tenant user forced(0|1)` relative to the unix time in
/// `LOAD_START`; each request starts at its time whatever the earlier ones do (open loop) and its latency
/// counts from that time, so a slow answer delays no later request and hides no wait. It stops starting
/// requests when the file named by `LOAD_STOP` exists. Writes one JSON line per request to OUTPUT:
/// `{"ms": latency, "outcome": "ok" | "lease_busy" | "failed", "error": type}`; never a token.
struct LoadTestHost {
    let schedule: String
    let output: String

    struct Outcome: Codable, Sendable {
        var ms: Double
        var outcome: String
        var error: String?
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let spec = environment["LOAD_SPEC"], let start = environment["LOAD_START"].flatMap(Double.init) else {
            throw BenchError("--load-host needs LOAD_SPEC and LOAD_START in its environment")
        }
        let stop = environment["LOAD_STOP"]
        let access = try TokenAccess(
            spec: try JobSpec.load(path: spec), principal: "bench", environment: environment,
            storeSessions: Int(environment["LOAD_POOL"] ?? "") ?? 4)
        let entries = try String(contentsOfFile: schedule, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ").map(String.init)
        }
        let origin = Date(timeIntervalSince1970: start)
        let results = try await withThrowingTaskGroup(of: Outcome?.self) { group in
            for entry in entries where entry.count == 4 {
                guard let offset = Double(entry[0]) else { continue }
                let due = origin.addingTimeInterval(offset)
                let wait = due.timeIntervalSinceNow
                if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1_000))) }
                if let stop, FileManager.default.fileExists(atPath: stop) { break }
                let key = TokenKey(tenant: entry[1], user: entry[2], provider: "local")
                let forced = entry[3] == "1"
                group.addTask {
                    do {
                        _ = try await access.accessToken(for: key, forceRefresh: forced)
                        return Outcome(ms: Date().timeIntervalSince(due) * 1_000, outcome: "ok")
                    } catch let error as AccessError where error.problem.contains("lease is held") {
                        return Outcome(ms: Date().timeIntervalSince(due) * 1_000, outcome: "lease_busy")
                    } catch {
                        return Outcome(
                            ms: Date().timeIntervalSince(due) * 1_000, outcome: "failed",
                            error: String(describing: type(of: error)) + ": " + String(describing: error).prefix(300))
                    }
                }
            }
            var results: [Outcome] = []
            for try await result in group { if let result { results.append(result) } }
            return results
        }
        let encoder = JSONEncoder()
        var text = ""
        for result in results { text += String(decoding: try encoder.encode(result), as: UTF8.self) + "\n" }
        try Data(text.utf8).write(to: URL(fileURLWithPath: output))
    }
}

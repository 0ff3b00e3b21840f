import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// The project's identity provider (Tests/IdentityProvider/idp.py), started by the token use and refresh
/// benchmarks on a free loopback port and stopped (by its process id) when the benchmark ends.
/// `@unchecked Sendable`: its fields are set once in `init`; the admin calls use URLSession.
final class BenchIdentityProvider: @unchecked Sendable {
    let process = Process()
    let baseURL: String
    let clientSecret: String

    /// Starts `script` with `python` and waits (at most 30 s) for its "listening on" line.
    init(python: String, script: String) throws {
        clientSecret = "bench-" + UUID().uuidString
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script, "--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(["IDP_CLIENT_SECRET": clientSecret]) {
            _, new in new
        }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var text = ""
        let deadline = Date().addingTimeInterval(30)
        while !text.contains("\n"), Date() < deadline, process.isRunning {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let range = text.range(of: "http://127.0.0.1:[0-9]+", options: .regularExpression) else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            throw BenchError(
                "the identity provider (\(python) \(script)) did not start within 30 s: \(text.prefix(300)); run scripts/setup"
            )
        }
        baseURL = String(text[range])
    }

    /// Stops the provider.
    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// CPU seconds (user + system) the provider has used so far, from /proc; nil where there is no /proc.
    func cpuSeconds() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // Fields after the command name: state is field 3, utime and stime are fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Sign-ins of `users` in `tenant`: their refresh tokens.
    func signIn(tenant: String, users: [String]) async throws -> [String] {
        guard
            let tokens = try await admin("admin/signin", ["tenant": tenant, "users": users])["refresh_tokens"]
                as? [String]
        else {
            throw BenchError("the identity provider returned no refresh tokens")
        }
        return tokens
    }

    /// How many refresh tokens the provider has redeemed so far.
    func redemptions() async throws -> Int {
        guard let count = try await admin("admin/stats")["redemptions"] as? Int else {
            throw BenchError("no redemption count from the provider")
        }
        return count
    }

    /// Calls an admin endpoint with a JSON body (or GET without one) and returns the JSON answer.
    func admin(_ path: String, _ body: [String: Any]? = nil) async throws -> [String: Any] {
        var request = URLRequest(url: URL(string: baseURL + "/" + path)!, timeoutInterval: 60)
        if let body {
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = try JSONSerialization.data(withJSONObject: body)
        }
        let (data, _) = try await URLSession.shared.data(for: request)
        guard let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError("the identity provider's \(path) did not answer with a JSON object")
        }
        return answer
    }
}

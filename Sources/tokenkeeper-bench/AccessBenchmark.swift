import Foundation
import TokenKeeper

#if canImport(FoundationNetworking)

    import FoundationNetworking
#endif
#if canImport(Glibc)
    import Glibc
#endif

/// Token use through the library (`TokenAccess`, as a web service calls it) against the project's
/// identity provider (Tests/IdentityProvider/idp.py on 127.0.0.1): latency per call (p50, p99) and this
/// process's CPU per call, with `tasks` concurrent tasks over `users` users.
///
/// Cold calls redeem at the provider every time (`forceRefresh`, the path every call took before
/// access tokens were cached); warm calls find the access token in the cache. A last step starts
/// `tasks` callers of one user at once on an empty cache and reads the provider's redemption count.

struct AccessBenchmark {
    let options: BenchOptions

    /// One phase's figures over one round.
    struct Round: Codable {
        var calls: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var cpuMillisecondsPerCall: Double
        var wallSeconds: Double
    }

    /// Everything one run measured.
    struct Figures: Codable {
        var users: Int
        var tasks: Int
        var cold: [Round]
        var warm: [Round]
        var concurrentCallersOfOneUser: Int
        var redemptionsForThem: Int
        var loadAverageBefore: String
        var loadAverageAfter: String
    }

    func run() async throws {
        let users = options.accessUsers ?? 500
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-access-bench-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let idp = try BenchIdentityProvider(python: options.python, script: options.identityProvider)
        defer { idp.stop() }
        let loadBefore = Self.loadAverage()
        print(
            "token access benchmark: \(users) users, \(options.accessTasks) concurrent tasks, \(options.accessRounds) rounds, "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadBefore)")
        let masterKey = try MasterKey.generate()
        let keys = try await seed(users, in: folder, masterKey: masterKey, idp: idp)
        let spec = try writeSpec(in: folder, idp: idp)
        let environment = ["TOKENKEEPER_MASTER_KEY": masterKey.base64, "IDP_CLIENT_SECRET": idp.clientSecret]
        let access = try TokenAccess(spec: spec, principal: "bench", environment: environment)

        var cold: [Round] = []
        var warm: [Round] = []
        for _ in 0..<options.accessRounds {
            // Cold: every call redeems (forceRefresh), as every call did before access tokens were cached.
            cold.append(
                try await measure(keys: keys, calls: keys.count) { key in
                    let grant = try await access.accessToken(for: key, forceRefresh: true)
                    guard !grant.fromCache else { throw BenchError("a forced refresh came from the cache") }
                })
            print(Self.describe("cold (redeem)", cold.last!))
            // Warm: every user's token is cached now (the cold round redeemed each one).
            warm.append(
                try await measure(keys: keys, calls: options.warmCalls) { key in
                    let grant = try await access.accessToken(for: key)
                    guard grant.fromCache else { throw BenchError("a warm call for \(key) redeemed") }
                })
            print(Self.describe("warm (cache hit)", warm.last!))
        }
        // Concurrent callers of one user on an empty cache (a new TokenAccess): one redemption.
        let fresh = try TokenAccess(spec: spec, principal: "bench", environment: environment)
        let before = try await idp.redemptions()
        let callers = options.accessTasks
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<callers { group.addTask { _ = try await fresh.accessToken(for: keys[0]) } }
            try await group.waitForAll()
        }
        let redemptions = try await idp.redemptions() - before
        let figures = Figures(
            users: users, tasks: options.accessTasks, cold: cold, warm: warm, concurrentCallersOfOneUser: callers,
            redemptionsForThem: redemptions, loadAverageBefore: loadBefore, loadAverageAfter: Self.loadAverage())
        print(Self.summary(figures))
        try BenchOutput.printJSON(figures)
    }

    // MARK: - Measuring

    /// Runs `calls` calls of `body` spread over `options.accessTasks` concurrent tasks (task t takes
    /// calls t, t + tasks, ...; call i uses key i mod keys.count) and returns their latency percentiles
    /// and this process's CPU time per call.
    private func measure(keys: [TokenKey], calls: Int, _ body: @escaping @Sendable (TokenKey) async throws -> Void)
        async throws -> Round
    {
        let tasks = options.accessTasks
        let cpuBefore = Self.cpuSeconds()
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for task in 0..<tasks {
                group.addTask {
                    var mine: [Double] = []
                    mine.reserveCapacity(calls / tasks + 1)
                    for call in stride(from: task, to: calls, by: tasks) {
                        let begin = ContinuousClock.now
                        try await body(keys[call % keys.count])
                        mine.append(Self.milliseconds(ContinuousClock.now - begin))
                    }
                    return mine
                }
            }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        let wall = ContinuousClock.now - started
        let cpu = Self.cpuSeconds() - cpuBefore
        return Round(
            calls: latencies.count, p50Milliseconds: Self.percentile(latencies, 0.50),
            p99Milliseconds: Self.percentile(latencies, 0.99),
            cpuMillisecondsPerCall: cpu * 1_000 / Double(latencies.count),
            wallSeconds: Self.milliseconds(wall) / 1_000)
    }

    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * fraction).rounded(.up)) - 1)]
    }

    static func milliseconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) * 1_000 + Double(attoseconds) / 1e15
    }

    /// User plus system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    /// The first three fields of /proc/loadavg (other work on the machine skews every figure).
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? 0 : sorted[sorted.count / 2]
    }

    static func describe(_ label: String, _ round: Round) -> String {
        String(
            format: "  %@ %6d calls: p50 %8.3f ms, p99 %8.3f ms, CPU %7.3f ms/call, %6.2f s",
            label.padding(toLength: 16, withPad: " ", startingAt: 0), round.calls, round.p50Milliseconds,
            round.p99Milliseconds,
            round.cpuMillisecondsPerCall, round.wallSeconds)
    }

    static func summary(_ figures: Figures) -> String {
        var lines = [
            "",
            "medians of \(figures.cold.count) rounds (load average before \(figures.loadAverageBefore), after \(figures.loadAverageAfter)):",
        ]
        for (label, rounds) in [("cold (redeem)", figures.cold), ("warm (cache hit)", figures.warm)]
        where !rounds.isEmpty {
            lines.append(
                String(
                    format: "  %@ p50 %8.3f ms, p99 %8.3f ms, CPU %7.3f ms/call",
                    label.padding(toLength: 16, withPad: " ", startingAt: 0), median(rounds.map(\.p50Milliseconds)),
                    median(rounds.map(\.p99Milliseconds)), median(rounds.map(\.cpuMillisecondsPerCall))))
        }
        if figures.concurrentCallersOfOneUser > 0 {
            lines.append(
                "  \(figures.concurrentCallersOfOneUser) concurrent callers of one user, empty cache: "
                    + "\(figures.redemptionsForThem) redemption(s) at the provider")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - Setup

    /// Signs `users` users in at the provider (over 10 tenants) and stores their refresh tokens.
    private func seed(_ users: Int, in folder: String, masterKey: MasterKey, idp: BenchIdentityProvider) async throws
        -> [TokenKey]
    {
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        let store = try StateBinding.openStore(
            at: folder + "/tokens.db", vault: vault, source: .create(replacing: false))
        let custodian = TokenCustodian(vault: vault, store: store)
        var keys: [TokenKey] = []
        let tenants = (0..<10).map { "tenant-\($0)" }
        for tenant in tenants {
            let names = stride(from: tenants.firstIndex(of: tenant)!, to: users, by: tenants.count).map { "user-\($0)" }
            guard !names.isEmpty else { continue }
            let tokens = try await idp.signIn(tenant: tenant, users: names)
            for (name, token) in zip(names, tokens) {
                let key = TokenKey(tenant: tenant, user: name, provider: "local")
                try custodian.put(key, token: SecretText(token), issuedAt: Date(), expiresAt: nil)
                keys.append(key)
            }
        }
        return keys
    }

    private func writeSpec(in folder: String, idp: BenchIdentityProvider) throws -> JobSpec {
        let path = folder + "/access.yml"
        try Data(
            """
            version: 1
            name: access-bench
            principal: bench
            vault:
              path: ./vault
              master_key: env:TOKENKEEPER_MASTER_KEY
            store:
              sqlite: ./tokens.db
            providers:
              local:
                kind: oauth2
                token_endpoint: \(idp.baseURL)/token
                client_id: tokenkeeper
                client_secret: env:IDP_CLIENT_SECRET
                scope: offline_access
            stages:
              - name: refresh-tokens
                kind: refresh
                provider: local
            """.utf8
        ).write(to: URL(fileURLWithPath: path))
        return try JobSpec.load(path: path)
    }
}

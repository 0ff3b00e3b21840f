import Foundation
import TokenKeeper

#if canImport(Glibc)
    import Glibc
#endif

/// `--load-test`: many web hosts (issue 16, point 5). A local PostgreSQL server (``PostgresBenchServer``)
/// holds the store and the vault; the project's identity provider (rotation, reuse detection) knows
/// every stored token: `--load-tokens` (50,000) over `--load-tenants` (200). `--load-hosts` (8) processes
/// (``LoadTestHost``), each with its own `TokenAccess` and pool, ask for access tokens at a fixed total
/// rate (`--load-rate`, 20 a second, open loop) for users drawn from a hot set of `--load-hot` (500), half
/// of the requests forced refreshes, so hosts collide on rows and redemptions. First `--load-seconds`
/// (30) with no job, then while a 2-shard run (`--shard 1/2`, `--shard 2/2`, one run id, started
/// together) rotates every tenant and refreshes every token. Then the invariants: the provider's reuse
/// counter is 0, every token opens, the per-version row counts equal a recount, and no request failed
/// except as lease busy. Prints p50/p99 idle and during, the job's time, and whether p99 during is at most
/// 3 times p99 idle. Bounded: the hosts by their schedules (the during phase at most `--load-max-seconds`,
/// 900), the shards by the same timeout; loopback and a Unix socket only.
struct LoadTestBenchmark {
    let options: BenchOptions

    struct Series: Codable {
        var requests: Int
        var ok: Int
        var leaseBusy: Int
        var failed: Int
        var p50Milliseconds: Double
        var p99Milliseconds: Double
        var maxMilliseconds: Double
    }

    struct Figures: Codable {
        var tokens: Int
        var tenants: Int
        var hosts: Int
        var ratePerSecond: Double
        var hotUsers: Int
        /// The refresh stage's max_rate (all shards together), per second.
        var jobRatePerSecond: Int
        var idle: Series
        var during: Series
        var jobSeconds: Double
        var shardSeconds: [Double]
        var shardStatuses: [Int32]
        var reuseDetected: Int
        var redemptions: Int
        var tokensOpened: Int
        var versionCountsMatch: Bool
        var failures: [String]
        var targetP99Milliseconds: Double
        var targetHolds: Bool
        var invariantsHold: Bool
        var loadAverageBefore: String
        var loadAverageAfter: String
    }

    static let storeVariable = "TOKENKEEPER_STORE_URL"
    static let vaultVariable = "TOKENKEEPER_VAULT_URL"

    func run() async throws {
        let size = options.loadTokens, tenantCount = options.loadTenants
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-load-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let server = try PostgresBenchServer()
        defer { server.stop() }
        try server.createDatabase("tokenkeeper")
        try server.createDatabase("vault")
        let storeURL = server.connectionString(database: "tokenkeeper")
        let vaultURL = server.connectionString(database: "vault")
        let idp = try BenchIdentityProvider(python: options.python, script: options.identityProvider)
        defer { idp.stop() }
        let loadBefore = AccessBenchmark.loadAverage()
        print(
            "load test: \(size) tokens over \(tenantCount) tenants, \(options.loadHosts) hosts at "
                + "\(options.loadRate) requests/s over \(options.loadHot) hot users (half forced refreshes), "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores, load average \(loadBefore)")
        fflush(nil)

        // The state: a PostgreSQL vault dated 40 days ago (a rotation is due), the store bound to it, and
        // every token a real one at the provider.
        let masterKey = try MasterKey.generate()
        let past = Date().addingTimeInterval(-40 * 86_400)
        let vault = try PostgresVault.initialize(
            connectionString: vaultURL, location: "postgres:env:\(Self.vaultVariable)", masterKey: masterKey,
            principal: "bench", clock: { past })
        let store = try PostgresTokenStore.create(
            connectionString: storeURL, location: "postgres:env:\(Self.storeVariable)")
        try vault.bindStore(store.identity.id, heldTokens: true, replacing: nil)
        let custodian = TokenCustodian(vault: vault, store: store)
        let seedStarted = Date()
        let tenants = (0..<tenantCount).map { "tenant-\($0)" }
        var keys: [TokenKey] = []
        let perTenant = (size + tenantCount - 1) / tenantCount
        for tenant in tenants where keys.count < size {
            let users = (0..<min(perTenant, size - keys.count)).map { "user-\($0)" }
            let tokens = try await idp.signIn(tenant: tenant, users: users)
            var batch: [StoredToken] = []
            for (user, token) in zip(users, tokens) {
                let key = TokenKey(tenant: tenant, user: user, provider: "local")
                let (version, sealed, wrappedKey) = try custodian.seal(
                    SecretText(token), for: key, secret: TokenCustodian.secretName(for: key))
                batch.append(
                    StoredToken(
                        key: key, secretName: tenant, keyVersion: version, sealedToken: sealed, issuedAt: past,
                        expiresAt: nil, updatedAt: past, wrappedKey: wrappedKey))
                keys.append(key)
            }
            try store.insertBatch(batch)
        }
        try server.admin("tokenkeeper").execute("VACUUM ANALYZE", purpose: "vacuum the seeded store")
        print(String(format: "seeded %d tokens in %.1f s", keys.count, Date().timeIntervalSince(seedStarted)))
        fflush(nil)

        let spec = try writeSpec(in: folder, idp: idp)
        let environment = [
            "TOKENKEEPER_MASTER_KEY": masterKey.base64, Self.storeVariable: storeURL, Self.vaultVariable: vaultURL,
            "IDP_CLIENT_SECRET": idp.clientSecret, "CI": "true", "LOAD_SPEC": spec,
        ]
        var generator = SplitMix(seed: 16)
        let hot = (0..<options.loadHot).map { _ in keys[Int(generator.next() % UInt64(keys.count))] }

        let idle = try phase(
            "idle", seconds: Double(options.loadSeconds), hot: hot, folder: folder, environment: environment,
            generator: &generator, job: nil)
        print(Self.describe("idle", idle.series))
        fflush(nil)
        let runID = "load-\(getpid())"
        let shards = (1...2).map { shard in
            // Until the shards of one run share the job lock, the second waits for the first (its lock timeout
            // is the phase's limit).
            [
                options.tokenkeeper, "run", spec, "--shard", "\(shard)/2", "--run-id", runID, "--lock-timeout",
                "\(options.loadMaxSeconds)s",
            ]
        }
        let during = try phase(
            "during", seconds: Double(options.loadMaxSeconds), hot: hot, folder: folder, environment: environment,
            generator: &generator, job: shards)
        print(Self.describe("during", during.series))

        // Invariants.
        let stats = try await idp.admin("admin/stats")
        let reuse = stats["reuse_detected"] as? Int ?? -1
        var rows: [StoredToken] = []
        let checker = TokenCustodian(vault: vault, store: try store.openSession())
        try checker.store.forEach {
            rows.append($0)
            return true
        }
        var opened = 0
        for row in rows where row.sealedToken != nil {
            _ = try checker.open(row)
            opened += 1
        }
        // The kept counts against a recount of the sealed rows in both row formats (sealed under a version, or
        // under a data key wrapped under one): the rows in one and not the other, as text.
        let recount = try server.admin("tokenkeeper").query(
            """
            WITH counted AS (SELECT tenant, key_version, sum(n) AS n FROM (
                                 SELECT tenant, key_version, count(*) AS n FROM tokens
                                 WHERE sealed_token IS NOT NULL AND key_version > 0 GROUP BY 1, 2
                                 UNION ALL
                                 SELECT k.tenant, k.key_version, count(*) FROM token_keys k
                                 JOIN tokens t ON t.id = k.token_id WHERE t.sealed_token IS NOT NULL GROUP BY 1, 2) formats
                             GROUP BY 1, 2),
                 kept AS (SELECT tenant, key_version, rows AS n FROM key_version_rows WHERE rows <> 0)
            SELECT coalesce(string_agg(d::text, ' '), '') FROM (
                (SELECT 'counted' AS side, * FROM (SELECT * FROM counted EXCEPT SELECT * FROM kept) a)
                UNION ALL
                (SELECT 'kept', * FROM (SELECT * FROM kept EXCEPT SELECT * FROM counted) b)) d
            """, purpose: "recount the rows per key version")
        let differences = recount.text(0, 0)
        if !differences.isEmpty { print("per-version counts differ: \(differences.prefix(500))") }
        let versionCountsMatch = differences.isEmpty
        let failures = idle.failures + during.failures
        let target = 3 * idle.series.p99Milliseconds
        let invariants =
            reuse == 0 && opened == keys.count && versionCountsMatch && failures.isEmpty
            && during.shards.allSatisfy { $0.status == 0 }
        let figures = Figures(
            tokens: keys.count, tenants: tenantCount, hosts: options.loadHosts, ratePerSecond: options.loadRate,
            hotUsers: hot.count, jobRatePerSecond: options.loadJobRate, idle: idle.series, during: during.series,
            jobSeconds: during.jobSeconds,
            shardSeconds: during.shards.map(\.seconds), shardStatuses: during.shards.map(\.status),
            reuseDetected: reuse, redemptions: stats["redemptions"] as? Int ?? -1, tokensOpened: opened,
            versionCountsMatch: versionCountsMatch, failures: Array(failures.prefix(20)),
            targetP99Milliseconds: target, targetHolds: during.series.p99Milliseconds <= target,
            invariantsHold: invariants, loadAverageBefore: loadBefore, loadAverageAfter: AccessBenchmark.loadAverage())
        print(
            String(
                format:
                    "job (2 shards, rotate + refresh): %.1f s (shards %@); reuse detected %d, tokens opened %d of %d, "
                    + "per-version counts %@, failures %d; target p99 during <= %.1f ms: %@",
                figures.jobSeconds, figures.shardSeconds.map { String(format: "%.1f s", $0) }.joined(separator: ", "),
                reuse, opened, keys.count, versionCountsMatch ? "match" : "DIFFER", failures.count, target,
                figures.targetHolds ? "holds" : "MISSED"))
        try BenchOutput.printJSON(figures)
        guard invariants else {
            throw BenchError(
                "an invariant failed: shards exited \(figures.shardStatuses) (their output is in the folder: --keep), "
                    + "reuse detected \(reuse), \(opened) of \(keys.count) tokens opened, per-version counts "
                    + (versionCountsMatch ? "match" : "differ") + ", failures \(figures.failures.prefix(3))")
        }
    }

    struct PhaseResult {
        var series: Series
        var failures: [String]
        var jobSeconds: Double
        var shards: [ChildProcess]
    }

    /// One phase: the hosts run their shares of an open-loop schedule of `seconds` (while the job runs, when
    /// there is one: the hosts stop when it ends).
    private func phase(
        _ name: String, seconds: Double, hot: [TokenKey], folder: String, environment: [String: String],
        generator: inout SplitMix, job: [[String]]?
    ) throws -> PhaseResult {
        let hosts = options.loadHosts
        let count = Int(seconds * options.loadRate)
        var lines = Array(repeating: "", count: hosts)
        for index in 0..<count {
            let key = hot[Int(generator.next() % UInt64(hot.count))]
            let offset = Double(index) / options.loadRate
            lines[index % hosts] += String(format: "%.4f", offset) + " \(key.tenant) \(key.user) \(index % 2)\n"
        }
        let stop = folder + "/\(name).stop"
        let start = Date().addingTimeInterval(3)
        var runs: [ThreadRun<Result<ChildProcess, any Error>>] = []
        for host in 0..<hosts {
            let schedule = folder + "/\(name)-\(host).schedule"
            try Data(lines[host].utf8).write(to: URL(fileURLWithPath: schedule))
            var env = environment
            env["LOAD_START"] = String(start.timeIntervalSince1970)
            env["LOAD_STOP"] = stop
            env["LOAD_POOL"] = String(options.loadPool)
            let command = [
                options.benchExecutable, "--load-host", schedule, folder + "/\(name)-\(host).jsonl",
            ]
            let limit = seconds + 120
            runs.append(
                ThreadRun { [env] in
                    Result {
                        try ChildProcess.run(
                            command, environment: env, output: folder + "/\(name)-\(host).out", timeout: limit)
                    }
                })
        }
        var shards: [ChildProcess] = []
        var jobSeconds = 0.0
        if let job {
            AccessDuringRotationBenchmark.sleep(until: start)
            let began = Date()
            let limit = seconds
            let runs = job.enumerated().map { shard, command in
                ThreadRun { [environment] in
                    Result {
                        try ChildProcess.run(
                            command, environment: environment, output: folder + "/shard-\(shard + 1).out",
                            timeout: limit)
                    }
                }
            }
            shards = try runs.map { try $0.wait().get() }
            jobSeconds = Date().timeIntervalSince(began)
            FileManager.default.createFile(atPath: stop, contents: Data())
        }
        for run in runs {
            let host = try run.wait().get()
            guard host.status == 0 else { throw BenchError("a load host exited \(host.status)") }
        }
        var times: [Double] = []
        var series = Series(
            requests: 0, ok: 0, leaseBusy: 0, failed: 0, p50Milliseconds: 0, p99Milliseconds: 0, maxMilliseconds: 0)
        var failures: [String] = []
        let decoder = JSONDecoder()
        for host in 0..<hosts {
            let text = try String(contentsOfFile: folder + "/\(name)-\(host).jsonl", encoding: .utf8)
            for line in text.split(separator: "\n") {
                let outcome = try decoder.decode(LoadTestHost.Outcome.self, from: Data(line.utf8))
                series.requests += 1
                times.append(outcome.ms)
                switch outcome.outcome {
                case "ok": series.ok += 1
                case "lease_busy": series.leaseBusy += 1
                default:
                    series.failed += 1
                    failures.append(outcome.error ?? "failed")
                }
            }
        }
        times.sort()
        if !times.isEmpty {
            series.p50Milliseconds = times[times.count / 2]
            series.p99Milliseconds = times[min(times.count - 1, times.count * 99 / 100)]
            series.maxMilliseconds = times[times.count - 1]
        }
        return PhaseResult(series: series, failures: failures, jobSeconds: jobSeconds, shards: shards)
    }

    static func describe(_ name: String, _ series: Series) -> String {
        String(
            format: "%@: %d requests (%d ok, %d lease busy, %d failed), p50 %.1f ms, p99 %.1f ms, max %.1f ms", name,
            series.requests, series.ok, series.leaseBusy, series.failed, series.p50Milliseconds,
            series.p99Milliseconds, series.maxMilliseconds)
    }

    /// The job: both state databases on PostgreSQL, a rotation of every tenant, then a refresh of every
    /// token (both sharded by `--shard`) at the stage's `max_rate` (`--load-job-rate`): the project's
    /// identity provider is one Python process that answers one request at a time, so a job refreshing as
    /// fast as it can would queue every web host's redemption behind its own. A real provider is not
    /// saturated by one client's job, and an operator sets `max_rate` to the share of its limit the job may take.
    private func writeSpec(in folder: String, idp: BenchIdentityProvider) throws -> String {
        let spec = folder + "/job.yml"
        try Data(
            """
            version: 1
            name: load
            principal: bench
            vault:
              postgres: env:\(Self.vaultVariable)
              master_key: env:TOKENKEEPER_MASTER_KEY
            store:
              postgres: env:\(Self.storeVariable)
            providers:
              local:
                kind: oauth2
                token_endpoint: \(idp.baseURL)/token
                client_id: tokenkeeper
                client_secret: env:IDP_CLIENT_SECRET
                scope: offline_access
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
                keep_versions: 1
              - name: refresh-tokens
                kind: refresh
                provider: local
                concurrency: 8
                max_rate: \(options.loadJobRate)/s
            report:
              json: ./reports/load.json
            """.utf8
        ).write(to: URL(fileURLWithPath: spec))
        return spec
    }
}

/// A small seeded generator (SplitMix64), so a run's schedule is the same each time.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A child process of the load test, its output in a file: its exit status and seconds from start to exit.
/// Killed (SIGKILL) after `timeout` seconds, and then the call throws.
struct ChildProcess {
    var status: Int32
    var seconds: Double

    static func run(_ command: [String], environment: [String: String], output: String, timeout: TimeInterval)
        throws -> ChildProcess
    {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        FileManager.default.createFile(atPath: output, contents: nil)
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardOutput = file
        process.standardError = file
        let started = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(started) > timeout {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw BenchError("\(command.prefix(2).joined(separator: " ")) ran past its \(Int(timeout)) s limit")
            }
            usleep(20_000)
        }
        return ChildProcess(status: process.terminationStatus, seconds: Date().timeIntervalSince(started))
    }
}

import Foundation
import TokenKeeper

#if canImport(Glibc)
    import Glibc
#endif

/// `--access-during-rotation N`: token access latency while a rotation runs (issue 14, point 6), "p50 no
/// more than twice the idle p50 plus 50 ms, max under 1 s".
///
/// Seeds N synthetic tokens (100 tenants, 1,200-byte tokens, as the rotation benchmark) plus a fixed set
/// of users whose tokens are real refresh tokens at the project's identity provider
/// (Tests/IdentityProvider/idp.py on 127.0.0.1), spread over the same tenants so the rotation rewraps
/// them too. Then, at a fixed rate, calls token access for those users, first idle, then while
/// `tokenkeeper run` rotates every tenant (until it ends, at most the same number of calls), in two
/// loops at once over disjoint halves of the users (each redemption rotates a user's refresh token):
///
/// - `tokenkeeper token access`, a process per call, which redeems at the provider every time: the
///   primary figure, the way the issue measured it "from outside";
/// - the library's `TokenAccess` in this process, cold (forceRefresh: redeem and commit the rotated
///   refresh token) then warm (the cached access token).
///
/// Prints p50 and max of each, idle and during, the rotation's time and whether the target holds.
/// Every loop is bounded: the calls by count, the rotation by a timeout of 60 s + 1 ms per token.

struct AccessDuringRotationBenchmark {
    let tokens: Int
    let options: BenchOptions

    /// Latencies of one kind of call in one phase.
    struct Series: Codable {
        var calls: Int
        var failures: Int
        var p50Milliseconds: Double
        var maxMilliseconds: Double
    }

    /// One phase (idle, or during the rotation).
    struct Phase: Codable {
        var cli: Series
        var libraryCold: Series
        var libraryWarm: Series
        var seconds: Double
    }

    /// Everything one run measured.
    struct Figures: Codable {
        var tokens: Int
        var measuredUsers: Int
        var intervalMilliseconds: Int
        var idle: Phase
        var during: Phase
        var rotationStageSeconds: Double
        var rotationProcessSeconds: Double
        var tokensRewrapped: Int
        var targetP50Milliseconds: Double
        var targetHolds: Bool
        var loadAverageBefore: String
        var loadAverageAfter: String
    }

    func run() async throws {
        let users = options.accessUsers ?? 20
        let calls = options.accessCalls
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-access-rotation-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let idp = try BenchIdentityProvider(python: options.python, script: options.identityProvider)
        defer { idp.stop() }
        let loadBefore = AccessBenchmark.loadAverage()
        print(
            "token access during a rotation: \(tokens) tokens (\(options.tenants ?? 100) tenants, \(options.tokenBytes)-byte "
                + "tokens), \(users) users with real tokens at \(idp.baseURL), \(calls) calls per phase every "
                + "\(options.accessIntervalMilliseconds) ms, \(ProcessInfo.processInfo.activeProcessorCount) cores, "
                + "load average \(loadBefore)")
        fflush(nil)

        let masterKey = try MasterKey.generate()
        let keys = try await seed(users: users, in: folder, masterKey: masterKey, idp: idp)
        let (accessSpec, rotateSpec) = try writeSpecs(in: folder, idp: idp)
        let environment = [
            "TOKENKEEPER_MASTER_KEY": masterKey.base64, "IDP_CLIENT_SECRET": idp.clientSecret, "CI": "true",
        ]
        let access = try TokenAccess(
            spec: try JobSpec.load(path: accessSpec), principal: "bench", environment: environment)
        let cli = [options.tokenkeeper, "token", "access", "--spec", accessSpec, "--provider", "local"]

        // Untimed: one call per user, so the binary, the vault and the store are in the page cache.
        let (cliKeys, libraryKeys) = Self.split(keys)
        for key in cliKeys { _ = Self.callCLI(cli, key, environment) }
        for key in libraryKeys { _ = await Self.callLibrary(access, key, forceRefresh: true) }
        let idle = try await phase(calls: calls, keys: keys, cli: cli, environment: environment, access: access) {
            true
        }
        print(Self.describe("idle", idle))
        fflush(nil)

        let command = [options.tokenkeeper, "run", rotateSpec]
        let timeout = 60 + 0.001 * Double(tokens)
        let rotation = ThreadRun {
            Result { try MeasuredProcess.run(command, environment: environment, timeout: timeout) }
        }
        let during = try await phase(calls: calls, keys: keys, cli: cli, environment: environment, access: access) {
            rotation.isRunning
        }
        let rotated = try rotation.wait().get()
        guard rotated.status == 0 else { throw BenchError("the rotation run exited \(rotated.status)") }
        let report = try JSONReportWriter.read(Data(contentsOf: URL(fileURLWithPath: folder + "/reports/rotate.json")))
        let stage = report.stages[0]
        let rewrapped = stage.counts.first { $0.name == "tokens_rewrapped" }?.value ?? 0
        print(Self.describe("during", during))
        let target = 2 * idle.cli.p50Milliseconds + 50
        let figures = Figures(
            tokens: tokens, measuredUsers: keys.count, intervalMilliseconds: options.accessIntervalMilliseconds,
            idle: idle, during: during, rotationStageSeconds: stage.duration, rotationProcessSeconds: rotated.seconds,
            tokensRewrapped: rewrapped, targetP50Milliseconds: target,
            targetHolds: during.cli.failures == 0 && during.cli.p50Milliseconds <= target
                && during.cli.maxMilliseconds < 1_000,
            loadAverageBefore: loadBefore, loadAverageAfter: AccessBenchmark.loadAverage())
        print(Self.summary(figures))
        try BenchOutput.printJSON(figures)
    }

    // MARK: - Measuring

    /// Two loops at once, each up to `calls` calls, one every `accessIntervalMilliseconds` (or at once when
    /// a call took longer), while `going()` says so: `token access` processes on a thread of their own for
    /// the first half of the users, and a cold then a warm library call per tick for the other half (a
    /// user's refresh token rotates at each redemption, so the two loops never share a user).
    private func phase(
        calls: Int, keys: [TokenKey], cli: [String], environment: [String: String], access: TokenAccess,
        while going: @escaping @Sendable () -> Bool
    ) async throws -> Phase {
        let (cliKeys, libraryKeys) = Self.split(keys)
        let interval = Double(options.accessIntervalMilliseconds) / 1_000
        let started = Date()
        let processes = ThreadRun<(times: [Double], failures: Int)> {
            var times: [Double] = []
            var failures = 0
            while times.count < calls, going() {
                Self.sleep(until: started.addingTimeInterval(Double(times.count) * interval))
                let outcome = Self.callCLI(cli, cliKeys[times.count % cliKeys.count], environment)
                times.append(outcome.milliseconds)
                if !outcome.ok { failures += 1 }
            }
            return (times, failures)
        }
        var coldTimes: [Double] = [], warmTimes: [Double] = []
        var failures = (cold: 0, warm: 0)
        while coldTimes.count < calls, going() {
            Self.sleep(until: started.addingTimeInterval(Double(coldTimes.count) * interval))
            let key = libraryKeys[coldTimes.count % libraryKeys.count]
            let cold = await Self.callLibrary(access, key, forceRefresh: true)
            let warm = await Self.callLibrary(access, key, forceRefresh: false)
            coldTimes.append(cold.milliseconds)
            warmTimes.append(warm.milliseconds)
            if !cold.ok { failures.cold += 1 }
            if !warm.ok { failures.warm += 1 }
        }
        let cli = processes.wait()
        return Phase(
            cli: Self.series(cli.times, cli.failures), libraryCold: Self.series(coldTimes, failures.cold),
            libraryWarm: Self.series(warmTimes, failures.warm), seconds: Date().timeIntervalSince(started))
    }

    /// The users of the `token access` processes (the first half) and of the library (the rest).
    static func split(_ keys: [TokenKey]) -> (cli: [TokenKey], library: [TokenKey]) {
        let half = max(1, keys.count / 2)
        return (Array(keys[..<half]), Array(keys[half...]))
    }

    static func sleep(until date: Date) {
        let wait = date.timeIntervalSinceNow
        if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
    }

    /// One `token access` process for `key`: its latency (spawn to exit) and whether it succeeded.
    static func callCLI(_ cli: [String], _ key: TokenKey, _ environment: [String: String]) -> (
        milliseconds: Double, ok: Bool
    ) {
        do {
            let process = try QuietProcess.run(
                cli + ["--tenant", key.tenant, "--user", key.user], environment: environment)
            if process.status != 0 {
                reportOnce("token access for \(key) exited \(process.status): \(process.errors)")
            }
            return (process.seconds * 1_000, process.status == 0)
        } catch {
            reportOnce("token access for \(key) did not start: \(error)")
            return (0, false)
        }
    }

    /// One library call for `key`: its latency and whether it succeeded (and came from where it should).
    static func callLibrary(_ access: TokenAccess, _ key: TokenKey, forceRefresh: Bool) async -> (
        milliseconds: Double, ok: Bool
    ) {
        let begin = ContinuousClock.now
        do {
            let grant = try await access.accessToken(for: key, forceRefresh: forceRefresh)
            return (AccessBenchmark.milliseconds(ContinuousClock.now - begin), forceRefresh != grant.fromCache)
        } catch {
            let elapsed = AccessBenchmark.milliseconds(ContinuousClock.now - begin)
            reportOnce("TokenAccess for \(key) failed: \(error)")
            return (elapsed, false)
        }
    }

    /// Prints a failure's message the first time only (the counts say how many there were).
    static func reportOnce(_ message: String) {
        guard Self.firstFailure.set() else { return }
        FileHandle.standardError.write(Data("first failure: \(message)\n".utf8))
    }

    private static let firstFailure = OnceFlag()

    static func series(_ values: [Double], _ failures: Int) -> Series {
        let sorted = values.sorted()
        return Series(
            calls: sorted.count, failures: failures, p50Milliseconds: AccessBenchmark.percentile(sorted, 0.5),
            maxMilliseconds: sorted.last ?? 0)
    }

    static func describe(_ label: String, _ phase: Phase) -> String {
        func line(_ name: String, _ s: Series) -> String {
            String(
                format: "    %@ %4d calls, %3d failed: p50 %8.3f ms, max %8.3f ms",
                name.padding(toLength: 34, withPad: " ", startingAt: 0), s.calls, s.failures, s.p50Milliseconds,
                s.maxMilliseconds)
        }
        return [
            "  \(label) (\(String(format: "%.1f", phase.seconds)) s):",
            line("token access (CLI, redeems)", phase.cli),
            line("library cold (forceRefresh)", phase.libraryCold),
            line("library warm (cached)", phase.libraryWarm),
        ].joined(separator: "\n")
    }

    static func summary(_ f: Figures) -> String {
        [
            "",
            String(
                format: "rotation: %d tokens rewrapped, stage %.2f s, process %.2f s", f.tokensRewrapped,
                f.rotationStageSeconds, f.rotationProcessSeconds),
            String(
                format:
                    "token access (CLI): idle p50 %.1f ms, max %.1f ms; during p50 %.1f ms, max %.1f ms (%d calls, %d failed)",
                f.idle.cli.p50Milliseconds, f.idle.cli.maxMilliseconds, f.during.cli.p50Milliseconds,
                f.during.cli.maxMilliseconds, f.during.cli.calls, f.during.cli.failures),
            String(
                format: "target: during p50 <= 2 x idle p50 + 50 ms = %.1f ms and max < 1000 ms, no failures: %@",
                f.targetP50Milliseconds, f.targetHolds ? "holds" : "missed"),
            "load average before \(f.loadAverageBefore), after \(f.loadAverageAfter)",
        ].joined(separator: "\n")
    }

    // MARK: - Setup

    /// Creates the vault (dated 40 days ago, so rotation is due) and the store, seeds `tokens` synthetic
    /// tokens over the tenants, and signs `users` users in at the provider, one per tenant in turn (provider
    /// `local`), storing their real refresh tokens. Returns the measured users' keys.
    private func seed(users: Int, in folder: String, masterKey: MasterKey, idp: BenchIdentityProvider)
        async throws -> [TokenKey]
    {
        let past = Date().addingTimeInterval(-40 * 86_400)
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let store = try StateBinding.openStore(
            at: folder + "/tokens.db", vault: vault, source: .create(replacing: false))
        let custodian = TokenCustodian(vault: vault, store: store)
        let tenants = RotationBenchmark.newTenants(options.tenants ?? 100)
        let started = Date()
        _ = try RotationBenchmark.insertSynthetic(
            tokens, custodian: custodian, tenants: tenants, tokenBytes: options.tokenBytes, at: past)
        var keys: [TokenKey] = []
        for index in 0..<users {
            let key = TokenKey(tenant: tenants[index % tenants.count], user: "user-\(index)", provider: "local")
            let refreshToken = try await idp.signIn(tenant: key.tenant, users: [key.user])[0]
            try custodian.put(key, token: SecretText(refreshToken), issuedAt: past, expiresAt: nil)
            keys.append(key)
        }
        try store.makeDurable()
        print(
            String(
                format: "seeded %d tokens and %d real ones in %.1f s", tokens, users, Date().timeIntervalSince(started))
        )
        return keys
    }

    /// The spec token access reads (the provider) and the rotate job's spec, on the same vault and store.
    private func writeSpecs(in folder: String, idp: BenchIdentityProvider) throws -> (access: String, rotate: String) {
        let state = """
            version: 1
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
            """
        let access = folder + "/access.yml", rotate = folder + "/rotate.yml"
        try Data(
            """
            \(state)
            name: access
            stages:
              - name: refresh-tokens
                kind: refresh
                provider: local
            """.utf8
        ).write(to: URL(fileURLWithPath: access))
        try Data(
            """
            \(state)
            name: rotate
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
                keep_versions: 1
            report:
              json: ./reports/rotate.json
            """.utf8
        ).write(to: URL(fileURLWithPath: rotate))
        return (access, rotate)
    }
}

/// A child process run to completion with its wall time, standard output thrown away (it may hold a
/// token) and standard error kept (errors never hold secrets), without GNU time in between.
struct QuietProcess {
    var status: Int32
    var seconds: Double
    var errors: String

    static func run(_ arguments: [String], environment: [String: String]) throws -> QuietProcess {
        let errorFile = NSTemporaryDirectory() + "/tokenkeeper-bench-stderr-\(getpid())"
        defer { unlink(errorFile) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let started = ContinuousClock.now
        let code = posix_spawn(&pid, arguments[0], &actions, nil, argv, envp)
        guard code == 0 else { throw BenchError("cannot start \(arguments[0]): error \(code)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let seconds = AccessBenchmark.milliseconds(ContinuousClock.now - started) / 1_000
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        let errors = (try? String(contentsOfFile: errorFile, encoding: .utf8)) ?? ""
        return QuietProcess(
            status: exit, seconds: seconds,
            errors: errors.trimmingCharacters(in: .whitespacesAndNewlines).prefix(500).description)
    }
}

/// A flag that can be set once, from any thread.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false

    /// Sets the flag; returns whether this call set it (false when it was set already).
    func set() -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard !isSet else { return false }
        isSet = true
        return true
    }
}

/// A closure run on a thread of its own (a child process to wait for, a loop of blocking calls), so the
/// benchmark can work while it runs. `@unchecked Sendable`: its result is only touched under `lock`.
final class ThreadRun<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Value?

    /// Starts `body` at once.
    init(_ body: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            let value = body()
            lock.lock()
            result = value
            lock.unlock()
        }
        thread.start()
    }

    /// Whether `body` still runs.
    var isRunning: Bool {
        lock.lock()
        defer { lock.unlock() }
        return result == nil
    }

    /// Waits (polling every 10 ms) for `body` to end and returns what it returned.
    func wait() -> Value {
        while isRunning { usleep(10_000) }
        lock.lock()
        defer { lock.unlock() }
        return result!
    }
}

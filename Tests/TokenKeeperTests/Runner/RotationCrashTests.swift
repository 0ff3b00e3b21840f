import Foundation
import Testing

@testable import Report
@testable import Store
@testable import Vault

#if canImport(Glibc)
    import Glibc
#endif

/// Crash safety of rotation, for real (I1, I3): `tokenkeeper run` in a child process is killed with
/// SIGKILL at many moments of a rotation, the job is run again, and the end state must equal that of
/// an uninterrupted run, with every token readable after every kill. Twice: a store in the envelope
/// format (the data keys are rewrapped), and one in the old format (the tokens are migrated to it); each
/// on the embedded default (vault folder, SQLite store) and on PostgreSQL (vault and store there).
@Suite(.serialized) struct RotationCrashTests {
    static let stages = """
        stages:
          - name: rotate-keys
            kind: rotate
            tenants: all
            max_key_age: 30d
            keep_versions: 0
            batch_size: 40
        """

    /// What a rotation leaves, without dates: each tenant's versions (number, enabled) and each row's
    /// key version and status.
    struct LogicalState: Equatable {
        var versions: [String: [String]] = [:]
        var rows: [String: String] = [:]
    }

    static func logicalState(_ world: CrashWorld) throws -> LogicalState {
        var state = LogicalState()
        let vault = try world.vault()
        for secret in try vault.secrets() {
            state.versions[secret.name] = try vault.versions(of: secret.name).map { "\($0.number):\($0.enabled)" }
        }
        try world.store().forEach { row in
            state.rows[row.key.description] =
                "v\(row.keyVersion) \(row.status.rawValue) \(row.wrappedKey == nil ? "old" : "envelope")"
            return true
        }
        return state
    }

    /// Starts `tokenkeeper run`, kills it with SIGKILL after `delay` seconds, and says whether the kill
    /// landed before the run finished on its own.
    static func runAndKill(_ world: CrashWorld, after delay: TimeInterval) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
        process.arguments = ["run", world.folder + "/job.yml"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            try world.environment.merging(["CI": "true"]) { _, new in new }
        ) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal
    }

    @Test(.serialized, arguments: CrashBackend.allCases)
    func rotationKilledAtManyMomentsFinishesOnRerunWithTheStateOfAnUninterruptedRun(_ backend: CrashBackend)
        async throws
    {
        try await Self.onThreadOfItsOwn {
            try Self.killAtManyMoments(backend, initialRows: "v1 active envelope") { world in
                try world.seed(tenants: (1...6).map { "tenant-\($0)" }, usersPerTenant: 500)
            }
        }
    }

    @Test(.serialized, arguments: CrashBackend.allCases)
    func migrationKilledAtManyMomentsFinishesOnRerunWithTheStateOfAnUninterruptedRun(_ backend: CrashBackend)
        async throws
    {
        try await Self.onThreadOfItsOwn {
            try Self.killAtManyMoments(backend, initialRows: "v1 active old") { world in
                try world.seedInOldFormat(tenants: (1...6).map { "tenant-\($0)" }, usersPerTenant: 500)
            }
        }
    }

    /// Runs `body`, which blocks for a long time (sleeps, waits for child processes), on a thread of its
    /// own, so it never holds one of the few threads the other tests' async code runs on.
    static func onThreadOfItsOwn(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    /// Seeds 3,000 tokens with `seed`, then kills rotations at many moments (see the tests above): twelve
    /// attempts on SQLite, eight on PostgreSQL (each of its kills costs a database copy and a server session).
    /// - Parameter initialRows: what every row says before the rotation (its version, status and format).
    static func killAtManyMoments(
        _ backend: CrashBackend, initialRows: String, seed: (CrashWorld) throws -> Void
    ) throws {
        try withTemporaryDirectory { root in
            // The initial state: 3,000 tokens over 6 tenants, every key 40 days old.
            let initial = try CrashWorld(backend, folder: root + "/initial")
            defer { initial.remove() }
            try seed(initial)
            try Data((initial.header + Self.stages).utf8).write(to: URL(fileURLWithPath: initial.folder + "/job.yml"))

            // The reference: one uninterrupted run.
            let reference = try initial.copy(to: root + "/reference")
            defer { reference.remove() }
            let started = Date()
            let referenceRun = try runTokenKeeper(
                ["run", reference.folder + "/job.yml"], environment: try reference.environment)
            let runTime = Date().timeIntervalSince(started)
            #expect(referenceRun.status == 0, "\(referenceRun.stderr)")
            let expected = try Self.logicalState(reference)
            #expect(Set(expected.rows.values) == ["v2 active envelope"])
            #expect(expected.versions["tenant-1"] == ["2:true"])

            // Kill runs at moments spread over the window in which the rewrap happens, up to three kills per
            // attempt (each rerun resumes the rewrap, so the same moment lands further along), then finish the job. The
            // window starts as the whole run and narrows to where first kills land mid-rotation: a first kill
            // that finds nothing rewrapped came too early, one that finds everything rewrapped too late. So
            // the kills keep landing in the rewrap however slow or loaded the machine is.
            var landedMidRotation = 0
            var window = (early: 0.0, late: runTime * 1.5)
            let attempts = backend == .sqlite ? 12 : 8
            // `attempts`, and up to as many more while fewer than three kills landed mid-rotation.
            for attempt in 0..<(2 * attempts) {
                if attempt >= attempts, landedMidRotation >= 3 { break }
                let moment = window.early + (window.late - window.early) * Double(attempt % 4 + 1) / 5
                let world = try initial.copy(to: root + "/attempt-\(attempt)")
                defer { world.remove() }
                for kill in 0..<3 {
                    guard try Self.runAndKill(world, after: moment) else {
                        if kill == 0 { window.late = min(window.late, moment) }
                        break
                    }
                    // At every instant every token opens with the version its row names (I1): so no version
                    // was purged while a row used it.
                    #expect(try world.verifyEveryToken() == 3_000, "attempt \(attempt), kill \(kill)")
                    // The per-version counts rotation plans from committed with the rows they count.
                    let counts = try world.keptAndRecountedKeyVersionRows()
                    #expect(counts.kept == counts.recounted, "attempt \(attempt), kill \(kill)")
                    let rows = try Self.logicalState(world).rows.values
                    // The rows still in the old format, as the migration counts them, are those that say so.
                    #expect(
                        try world.store().oldFormatCounts().values.reduce(0, +)
                            == rows.filter { $0.hasSuffix(" old") }.count,
                        "attempt \(attempt), kill \(kill)")
                    let versionsInUse = Set(rows)
                    if versionsInUse.contains(initialRows), versionsInUse.contains("v2 active envelope") {
                        landedMidRotation += 1
                    }
                    if kill == 0, versionsInUse == [initialRows] { window.early = max(window.early, moment) }
                    if kill == 0, versionsInUse == ["v2 active envelope"] { window.late = min(window.late, moment) }
                }
                let finish = try runTokenKeeper(["run", world.folder + "/job.yml"], environment: try world.environment)
                #expect(finish.status == 0, "attempt \(attempt): \(finish.stderr)")
                #expect(try world.verifyEveryToken() == 3_000, "attempt \(attempt)")
                #expect(try Self.logicalState(world) == expected, "attempt \(attempt)")
            }
            // The test means something only if kills landed in the middle of the rewrap.
            #expect(
                landedMidRotation >= 3, "only \(landedMidRotation) kills landed mid-rotation (run time \(runTime) s)")
        }
    }
}

extension JobFixture {
    /// A fixture over a copy of another fixture's folder (same master key and dates).
    init(adopting folder: String, from original: JobFixture) throws {
        self.folder = folder
        self.masterKey = original.masterKey
        self.origin = original.origin
    }
}

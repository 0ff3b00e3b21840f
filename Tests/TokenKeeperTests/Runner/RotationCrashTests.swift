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
/// format (the data keys are rewrapped), and one in the old format (the tokens are migrated to it).
@Suite(.serialized) struct RotationCrashTests {
    static let spec =
        JobFixture.header + """
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

    static func logicalState(_ fixture: JobFixture) throws -> LogicalState {
        var state = LogicalState()
        let vault = try FileVault.open(at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline")
        for secret in try vault.secrets() {
            state.versions[secret.name] = try vault.versions(of: secret.name).map { "\($0.number):\($0.enabled)" }
        }
        try SQLiteTokenStore(path: fixture.storePath).forEach { row in
            state.rows[row.key.description] =
                "v\(row.keyVersion) \(row.status.rawValue) \(row.wrappedKey == nil ? "old" : "envelope")"
            return true
        }
        return state
    }

    /// Copies the folder with modes kept (`cp -a`), so the copy is a vault tokenkeeper accepts.
    static func copy(_ from: String, to: String) throws {
        let result = try runProcess("/bin/cp", ["-a", from, to])
        guard result.status == 0 else { throw ProcessTimeout(executable: "cp", arguments: [result.stderr], seconds: 0) }
    }

    /// Starts `tokenkeeper run`, kills it with SIGKILL after `delay` seconds, and says whether the kill
    /// landed before the run finished on its own.
    static func runAndKill(_ fixture: JobFixture, after delay: TimeInterval) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
        process.arguments = ["run", fixture.folder + "/job.yml"]
        process.environment = ProcessInfo.processInfo.environment.merging(
            fixture.environment.merging(["CI": "true"]) { _, new in new }
        ) { _, new in new }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        usleep(useconds_t(delay * 1_000_000))
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return process.terminationReason == .uncaughtSignal
    }

    @Test func rotationKilledAtManyMomentsFinishesOnRerunWithTheStateOfAnUninterruptedRun() async throws {
        try await Self.onThreadOfItsOwn {
            try Self.killAtManyMoments(initialRows: "v1 active envelope") { fixture in
                try fixture.seed(tenants: (1...6).map { "tenant-\($0)" }, usersPerTenant: 500)
            }
        }
    }

    @Test func migrationKilledAtManyMomentsFinishesOnRerunWithTheStateOfAnUninterruptedRun() async throws {
        try await Self.onThreadOfItsOwn {
            try Self.killAtManyMoments(initialRows: "v1 active old") { fixture in
                try fixture.seedInOldFormat(tenants: (1...6).map { "tenant-\($0)" }, usersPerTenant: 500)
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

    /// Seeds 3,000 tokens with `seed`, then kills rotations at many moments (see the tests above).
    /// - Parameter initialRows: what every row says before the rotation (its version, status and format).
    static func killAtManyMoments(initialRows: String, seed: (JobFixture) throws -> Void) throws {
        try withTemporaryDirectory { root in
            // The initial state: 3,000 tokens over 6 tenants, every key 40 days old.
            let initial = try JobFixture(folder: root + "/initial")
            try seed(initial)
            _ = try initial.spec(Self.spec)

            // The reference: one uninterrupted run.
            try Self.copy(initial.folder, to: root + "/reference")
            let reference = try JobFixture(adopting: root + "/reference", from: initial)
            let started = Date()
            let referenceRun = try runTokenKeeper(
                ["run", reference.folder + "/job.yml"], environment: reference.environment)
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
            // Twelve attempts, and up to twelve more while fewer than three kills landed mid-rotation.
            for attempt in 0..<24 {
                if attempt >= 12, landedMidRotation >= 3 { break }
                let moment = window.early + (window.late - window.early) * Double(attempt % 4 + 1) / 5
                let folder = root + "/attempt-\(attempt)"
                try Self.copy(initial.folder, to: folder)
                let fixture = try JobFixture(adopting: folder, from: initial)
                for kill in 0..<3 {
                    guard try Self.runAndKill(fixture, after: moment) else {
                        if kill == 0 { window.late = min(window.late, moment) }
                        break
                    }
                    // At every instant every token opens with the version its row names (I1).
                    #expect(try fixture.verifyEveryToken() == 3_000, "attempt \(attempt), kill \(kill)")
                    // The per-version counts rotation plans from committed with the rows they count.
                    let store = try SQLiteTokenStore(path: fixture.storePath)
                    #expect(
                        try store.keptKeyVersionRows() == (try store.recountedKeyVersionRows()),
                        "attempt \(attempt), kill \(kill)")
                    let rows = try Self.logicalState(fixture).rows.values
                    // The rows still in the old format, as the migration counts them, are those that say so.
                    #expect(
                        try store.oldFormatCounts().values.reduce(0, +) == rows.filter { $0.hasSuffix(" old") }.count,
                        "attempt \(attempt), kill \(kill)")
                    let versionsInUse = Set(rows)
                    if versionsInUse.contains(initialRows), versionsInUse.contains("v2 active envelope") {
                        landedMidRotation += 1
                    }
                    if kill == 0, versionsInUse == [initialRows] { window.early = max(window.early, moment) }
                    if kill == 0, versionsInUse == ["v2 active envelope"] { window.late = min(window.late, moment) }
                }
                let finish = try runTokenKeeper(["run", folder + "/job.yml"], environment: fixture.environment)
                #expect(finish.status == 0, "attempt \(attempt): \(finish.stderr)")
                #expect(try fixture.verifyEveryToken() == 3_000, "attempt \(attempt)")
                #expect(try Self.logicalState(fixture) == expected, "attempt \(attempt)")
                try? FileManager.default.removeItem(atPath: folder)
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

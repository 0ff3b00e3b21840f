import Foundation
import Testing

@testable import Crypto
@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

#if canImport(Glibc)
    import Glibc
#endif

/// `tokenkeeper state copy` as a person or a pipeline runs it (issue 15, point 5): the real binary, real
/// files, and real SIGKILLs.
@Suite(.serialized) struct StateCopyEndToEndTests {
    /// A source state (the job fixture's, principal `pipeline`) and a destination vault made with
    /// `tokenkeeper vault init`, its key in a file.
    struct Workspace {
        let folder: String
        let fixture: JobFixture
        var destinationVault: String { folder + "/new/vault" }
        var destinationStore: String { folder + "/new/tokens.db" }
        var destinationKeyFile: String { folder + "/new.key" }

        init(_ folder: String, tenants: Int = 3, users: Int = 5) throws {
            self.folder = folder
            fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: (0..<tenants).map { "t\($0)" }, usersPerTenant: users)
            let made = try runTokenKeeper([
                "vault", "init", destinationVault, "--master-key-out", destinationKeyFile, "--principal", "pipeline",
            ])
            #expect(made.status == 0, "\(made.stderr)")
        }

        var sourceOptions: [String] {
            ["--vault", fixture.vaultPath, "--store", fixture.storePath, "--principal", "pipeline"]
        }
        var copyArguments: [String] {
            ["state", "copy"] + sourceOptions + [
                "--to-vault", destinationVault, "--to-store", destinationStore, "--to-master-key-file",
                destinationKeyFile,
            ]
        }

        func copy(_ extra: [String] = []) throws -> ProcessResult {
            try runTokenKeeper(copyArguments + extra, environment: fixture.environment, timeout: 120)
        }

        func destinationKey() throws -> MasterKey { try MasterKey(fileNamedBy: "test", path: destinationKeyFile) }

        /// The destination, opened as a web host would.
        func destination() throws -> TokenCustodian {
            let vault = try FileVault.open(at: destinationVault, masterKey: destinationKey(), principal: "pipeline")
            return TokenCustodian(vault: vault, store: try StateBinding.openStore(at: destinationStore, vault: vault))
        }

        /// Every row of the source, read before the copy (afterwards it no longer opens).
        func sourceRows() throws -> [CopiedTokenRow] {
            try StateCopyTests.World.rows(SQLiteTokenStore(path: fixture.storePath))
        }

        /// The destination holds exactly `rows`, and every token opens there to the value the fixture stored.
        func expectDestinationHolds(_ rows: [CopiedTokenRow]) throws {
            let destination = try destination()
            let copied = try StateCopyTests.World.rows(destination.store)
            #expect(copied.count == rows.count && zip(rows, copied).allSatisfy { $0.sameState(as: $1) })
            for row in copied {
                #expect(try destination.open(row.token) == JobFixture.token(for: row.token.key))
            }
            #expect(try destination.store.stateMark() == nil && destination.vault.stateMark() == nil)
        }
    }

    @Test func afterTheCopyTheSourceRefusesCommandsNamingTheDestinationAndARerunSaysItIsDone() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let rows = try workspace.sourceRows()
            let copied = try workspace.copy()
            #expect(copied.status == 0, "\(copied.stderr)")
            #expect(copied.stdout.contains("state_copy=done resumed=false secrets=3 deleted_secrets=0 versions=3"))
            #expect(copied.stdout.contains("tenant=t1 rows=5 tokens=5 by_version=v1:5"))
            try workspace.expectDestinationHolds(rows)

            for command in [["token", "list"], ["status"], ["vault", "secret", "list"]] {
                let refused = try runTokenKeeper(
                    command + workspace.sourceOptions, environment: workspace.fixture.environment)
                #expect(refused.status == 3)
                #expect(
                    refused.stderr.contains("was moved to vault \(workspace.destinationVault)"), "\(refused.stderr)")
            }
            let used = try runTokenKeeper(
                [
                    "token", "list", "--vault", workspace.destinationVault, "--store", workspace.destinationStore,
                    "--master-key-file", workspace.destinationKeyFile, "--principal", "pipeline",
                ])
            #expect(used.status == 0 && used.stdout.contains("t2"), "\(used.stderr)")

            let before = try JobFixture.snapshot(of: folder + "/new").merging(
                JobFixture.snapshot(of: folder + "/state")
            ) { a, _ in a }
            let again = try workspace.copy()
            #expect(again.status == 0 && again.stdout == "state_copy=done already=true\n", "\(again.stderr)")
            #expect(again.stderr.contains("nothing to do"))
            let after = try JobFixture.snapshot(of: folder + "/new").merging(
                JobFixture.snapshot(of: folder + "/state")
            ) { a, _ in a }
            #expect(after == before, "a rerun after success changed files")
        }
    }

    /// Kills a copy (SIGKILL) once `moment` holds, polled every 2 ms for at most 20 s; returns
    /// whether the kill landed mid-copy (the source not yet marked moved).
    static func kill(_ workspace: Workspace, when moment: () -> Bool) throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
        process.arguments = workspace.copyArguments + ["--batch-size", "10"]
        process.environment = ProcessInfo.processInfo.environment.merging(workspace.fixture.environment) { $1 }
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(20)
        while process.isRunning, Date() < deadline, !moment() { usleep(2_000) }
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let moved = (try? SQLiteTokenStore(path: workspace.fixture.storePath, readOnly: true)) == nil
        return process.terminationReason == .uncaughtSignal && !moved
    }

    /// Counts the destination's rows through one read-only connection, opened once the store exists, so
    /// polling costs one small query (the tests beside this one keep their timing).
    final class DestinationRows {
        let path: String
        private var connection: SQLiteConnection?
        init(_ workspace: Workspace) { path = workspace.destinationStore }

        /// Rows at the destination now, 0 while there is no store (or it is being made).
        var count: Int {
            if connection == nil, FileManager.default.fileExists(atPath: path) {
                connection = try? SQLiteConnection(path: path, readOnly: true)
            }
            return Int((try? connection?.scalar("SELECT count(*) FROM tokens")) ?? 0)
        }
    }

    @Test func aCopyKilledWithSigkillAtAnyPointFinishesWhenRunAgainWithTheSameResult() throws {
        let total = 6 * 40
        // Kill moments: copying secrets, copying rows, verifying (every row written).
        let moments: [(String, (Workspace, DestinationRows) -> Bool)] = [
            (
                "secrets",
                { workspace, _ in
                    ((try? FileManager.default.contentsOfDirectory(atPath: workspace.destinationVault + "/secrets"))
                        ?? [])
                        .count >= 2
                }
            ),
            ("rows", { _, rows in rows.count >= total / 3 }),
            ("verify", { _, rows in rows.count >= total }),
        ]
        var midCopy = 0
        for (name, moment) in moments {
            try withTemporaryDirectory { folder in
                let workspace = try Workspace(folder, tenants: 6, users: 40)
                let rows = try workspace.sourceRows()
                let destinationRows = DestinationRows(workspace)
                if try Self.kill(workspace, when: { moment(workspace, destinationRows) }) { midCopy += 1 }
                let rerun = try workspace.copy(["--batch-size", "10"])
                #expect(rerun.status == 0, "after a kill while copying \(name): \(rerun.stderr)")
                #expect(
                    rerun.stdout.contains("rows=\(total) tokens=\(total) tokens_opened=\(total)"), "\(rerun.stdout)")
                try workspace.expectDestinationHolds(rows)
                #expect(throws: StateMarkError.self) { try SQLiteTokenStore(path: workspace.fixture.storePath) }
                let again = try workspace.copy()
                #expect(again.status == 0 && again.stdout.contains("already=true"))
            }
        }
        #expect(midCopy >= 2, "only \(midCopy) of \(moments.count) kills landed mid-copy")
    }

    @Test func nothingStateCopyPrintsContainsATokenOrAKey() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder, tenants: 2, users: 2)
            let custodian = try workspace.fixture.custodian()
            let canary = TokenKey(tenant: "t0", user: "canary", provider: "entra")
            try custodian.put(canary, token: SecretText("rt-LEAK-CANARY-copy"), issuedAt: Date(), expiresAt: nil)
            var secrets = [
                "LEAK-CANARY", "secret-value", workspace.fixture.masterKey.base64,
                try workspace.destinationKey().base64,
            ]
            for name in ["t0", "t1"] {
                for version in try custodian.vault.exportSecret(name).versions {
                    secrets.append(version.key.withUnsafeBytes { Data($0).base64EncodedString() })
                    secrets.append(version.key.withUnsafeBytes { Hex.encode(Array($0)) })
                }
            }
            var printed = ""
            func record(_ result: ProcessResult) { printed += result.stdout + result.stderr }
            // A wrong destination key, a destination that is not a vault, then the copy, its rerun, the source refused.
            record(
                try runTokenKeeper(
                    workspace.copyArguments.map {
                        $0 == workspace.destinationKeyFile ? workspace.fixture.folder + "/none" : $0
                    },
                    environment: workspace.fixture.environment))
            record(
                try runTokenKeeper(
                    workspace.copyArguments.map { $0 == workspace.destinationVault ? folder + "/nothing" : $0 },
                    environment: workspace.fixture.environment))
            let copied = try workspace.copy()
            #expect(copied.status == 0, "\(copied.stderr)")
            record(copied)
            record(try workspace.copy())
            record(
                try runTokenKeeper(
                    ["token", "list"] + workspace.sourceOptions, environment: workspace.fixture.environment))
            #expect(printed.contains("tenant=t0 rows=3"))  // the search does look at real output
            for secret in secrets { #expect(!printed.contains(secret), "state copy's output leaks a secret") }
        }
    }
}

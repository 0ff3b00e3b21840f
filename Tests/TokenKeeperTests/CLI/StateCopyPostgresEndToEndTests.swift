import Foundation
import Testing

@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// `tokenkeeper state copy` between the embedded state and PostgreSQL, both ways, with the built binary
/// (issue 15, point 5): destinations named `postgres:env:NAME`, a job run on the moved state, the source
/// refused naming the destination, and rows in both formats (envelope and old) carried as sealed bytes.
@Suite(.serialized) struct StateCopyPostgresEndToEndTests {
    /// A source state in folders (envelope rows for t1 and t2, old-format rows for t3's `legacy`
    /// provider), two empty databases for the destination vault and store, and the environment naming them.
    struct World {
        let folder: String
        let fixture: JobFixture
        let vaultURL: String
        let storeURL: String
        var keyFile: String { folder + "/pg.key" }
        var environment: [String: String] {
            fixture.environment.merging(["DEST_VAULT_URL": vaultURL, "DEST_STORE_URL": storeURL]) { $1 }
        }
        static let vault = "postgres:env:DEST_VAULT_URL"
        static let store = "postgres:env:DEST_STORE_URL"
        static var serverName: String { StateCopier.name(vault: vault, store: store) }

        init(_ folder: String) throws {
            self.folder = folder
            fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2", "t3"], usersPerTenant: 3)
            try fixture.seedInOldFormat(tenants: ["t3"], usersPerTenant: 2, provider: "legacy")
            let server = try PostgresTestServer.shared()
            vaultURL = server.connectionString(database: try server.createDatabase())
            storeURL = server.connectionString(database: try server.createDatabase())
        }

        func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> ProcessResult {
            try runTokenKeeper(arguments, environment: environment.merging(extra) { $1 }, timeout: 120)
        }

        func serverKey() throws -> MasterKey { try MasterKey(fileNamedBy: "test", path: keyFile) }

        /// The PostgreSQL state, opened as a web host would.
        func server() throws -> TokenCustodian {
            let vault = try PostgresVault.open(
                connectionString: vaultURL, location: Self.vault, masterKey: serverKey(), principal: "pipeline")
            return TokenCustodian(
                vault: vault,
                store: try PostgresTokenStore(connectionString: storeURL, location: Self.store))
        }
    }

    /// What a store holds, as a copy must keep it: every row, rows per key version per tenant, and
    /// how many rows hold a token in each format.
    struct Holding: Equatable {
        var rows: [CopiedTokenRow]
        var counts: [String: [Int: Int]]
        var oldFormat: Int
        var envelope: Int

        init(_ store: any TokenStore) throws {
            rows = try StateCopyTests.World.rows(store)
            counts = [:]
            for tenant in ["t1", "t2", "t3"] { counts[tenant] = try store.keyVersionCounts(tenant: tenant) }
            let tokens = rows.filter { $0.token.sealedToken != nil }
            oldFormat = tokens.filter { $0.wrappedKey == nil }.count
            envelope = tokens.count - oldFormat
        }

        static func == (a: Holding, b: Holding) -> Bool {
            a.rows.count == b.rows.count && zip(a.rows, b.rows).allSatisfy { $0.sameState(as: $1) }
                && a.counts == b.counts && a.oldFormat == b.oldFormat && a.envelope == b.envelope
        }
    }

    /// Every token of `custodian`'s store opens to the value the fixture stored; returns how many did.
    static func openEvery(_ custodian: TokenCustodian) throws -> Int {
        var opened = 0
        for row in try StateCopyTests.World.rows(custodian.store) where row.token.sealedToken != nil {
            #expect(try custodian.open(row.token) == JobFixture.token(for: row.token.key), "\(row.token.key)")
            opened += 1
        }
        return opened
    }

    @Test func embeddedStateMovesToPostgresWhereAJobRunsAndBackWithEveryRowInEitherFormat() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let source = try Holding(SQLiteTokenStore(path: world.fixture.storePath))
            #expect(source.oldFormat == 2 && source.envelope == 9)

            // Embedded -> PostgreSQL vault and store, named by reference.
            let made = try world.run([
                "vault", "init", World.vault, "--master-key-out", world.keyFile, "--principal", "pipeline",
            ])
            #expect(made.status == 0, "\(made.stderr)")
            let sourceOptions = [
                "--vault", world.fixture.vaultPath, "--store", world.fixture.storePath, "--principal", "pipeline",
            ]
            let copied = try world.run(
                ["state", "copy"] + sourceOptions + [
                    "--to-vault", World.vault, "--to-store", World.store, "--to-master-key-file", world.keyFile,
                    "--batch-size", "4",
                ])
            #expect(copied.status == 0, "\(copied.stderr)")
            #expect(copied.stdout.contains("rows=11 tokens=11 tokens_opened=11"), "\(copied.stdout)")
            #expect(!copied.output.contains(world.vaultURL) && !copied.output.contains(world.storeURL))
            let onServer = try world.server()
            #expect(try Holding(onServer.store) == source)
            #expect(try Self.openEvery(onServer) == 11)

            // The source refuses use, naming the destination by its references.
            let refused = try world.run(["token", "list"] + sourceOptions)
            #expect(refused.status == 3, "\(refused.output)")
            #expect(refused.stderr.contains("was moved to \(World.serverName)"), "\(refused.stderr)")

            // A job runs on the moved state: the rotation is due (the keys are 40 days old), and moves the
            // old-format rows over too.
            try Data(
                """
                version: 1
                name: moved-job
                principal: pipeline
                vault:
                  postgres: env:DEST_VAULT_URL
                  master_key: env:DEST_MASTER_KEY
                store:
                  postgres: env:DEST_STORE_URL
                stages:
                  - name: rotate-keys
                    kind: rotate
                    tenants: all
                    max_key_age: 30d
                    keep_versions: 1

                """.utf8
            ).write(to: URL(fileURLWithPath: folder + "/moved.yml"))
            let job = try world.run(
                ["run", folder + "/moved.yml"], environment: ["DEST_MASTER_KEY": try world.serverKey().base64])
            #expect(job.status == 0, "\(job.output)")
            let rotated = try Holding(world.server().store)
            #expect(rotated.counts["t1"] == [2: 3] && rotated.oldFormat == 0 && rotated.envelope == 11)
            #expect(try Self.openEvery(world.server()) == 11)

            // PostgreSQL -> embedded, into a new vault folder and SQLite file.
            let backVault = folder + "/back/vault", backStore = folder + "/back/tokens.db"
            let backKey = folder + "/back.key"
            let backMade = try world.run([
                "vault", "init", backVault, "--master-key-out", backKey, "--principal", "pipeline",
            ])
            #expect(backMade.status == 0, "\(backMade.stderr)")
            let serverOptions = ["--vault", World.vault, "--store", World.store, "--principal", "pipeline"]
            let back = try world.run(
                ["state", "copy"] + serverOptions + [
                    "--to-vault", backVault, "--to-store", backStore, "--to-master-key-file", backKey,
                ], environment: ["TOKENKEEPER_MASTER_KEY": try world.serverKey().base64])
            #expect(back.status == 0, "\(back.stderr)")
            let returnedVault = try FileVault.open(
                at: backVault, masterKey: MasterKey(fileNamedBy: "test", path: backKey), principal: "pipeline")
            let returned = TokenCustodian(
                vault: returnedVault, store: try StateBinding.openStore(at: backStore, vault: returnedVault))
            #expect(try Holding(returned.store) == rotated)
            #expect(try Self.openEvery(returned) == 11)
            let serverRefused = try world.run(
                ["token", "list"] + serverOptions, environment: ["TOKENKEEPER_MASTER_KEY": try world.serverKey().base64]
            )
            #expect(serverRefused.status == 3, "\(serverRefused.output)")
            #expect(
                serverRefused.stderr.contains("was moved to \(StateCopier.name(vault: backVault, store: backStore))"),
                "\(serverRefused.stderr)")
        }
    }

    @Test func aBadDestinationKeyFileNamesTheDestinationsVariable() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let missing = try world.run([
                "state", "copy", "--vault", world.fixture.vaultPath, "--store", world.fixture.storePath,
                "--principal", "pipeline", "--to-vault", World.vault, "--to-store", World.store,
                "--to-master-key-file", folder + "/no-such.key",
            ])
            #expect(missing.status == 3, "\(missing.output)")
            #expect(missing.stderr.contains("TOKENKEEPER_TO_MASTER_KEY"), "\(missing.stderr)")
            #expect(!missing.stderr.contains("TOKENKEEPER_MASTER_KEY "), "\(missing.stderr)")
        }
    }
}

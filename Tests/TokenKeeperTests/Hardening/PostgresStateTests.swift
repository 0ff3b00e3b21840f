import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// The state on PostgreSQL as the spec names it: the vault-store binding rules hold there too, the TLS rule
/// and the statement timeouts reach every connection the job opens, and losing the server mid-job is a
/// transient failure that loses nothing.
@Suite struct PostgresStateTests {
    /// A file vault in `folder` and a fresh, empty database; the location names it through `URL`.
    private static func emptyState(_ folder: String) throws -> (vault: FileVault, environment: [String: String]) {
        let server = try PostgresTestServer.shared()
        let vault = try FileVault.initialize(
            at: folder + "/vault", masterKey: try MasterKey.generate(), principal: "pipeline")
        return (vault, ["URL": server.connectionString(database: try server.createDatabase())])
    }

    private static let location = StoreLocation.postgres(connection: .environment("URL"), tls: .verifiedOffHost)

    @Test func aMissingStoreOnPostgresIsRefusedAndStateInitMakesItOnce() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            // An empty database is never taken for a new store.
            let missing = #expect(throws: StateBindingError.self) {
                try StateBinding.openStore(Self.location, vault: vault, environment: environment)
            }
            #expect(missing?.item == "postgres:env:URL")
            #expect(missing?.exitStatus == .environment)
            let made = try StateBinding.openStore(
                Self.location, vault: vault, source: .create(replacing: false), environment: environment)
            #expect(try vault.storeBinding()?.storeID == made.identity.id)
            let exists = #expect(throws: StoreError.self) {
                try StateBinding.openStore(
                    Self.location, vault: vault, source: .create(replacing: false), environment: environment)
            }
            #expect(exists?.description.contains("exists already") == true)
            let opened = try StateBinding.openStore(Self.location, vault: vault, environment: environment)
            #expect(opened.identity == made.identity)
        }
    }

    @Test func anotherStoreOnPostgresIsRefusedNamingBoth() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            _ = try StateBinding.openStore(
                Self.location, vault: vault, source: .create(replacing: false), environment: environment)
            let server = try PostgresTestServer.shared()
            let other = server.connectionString(database: try server.createDatabase())
            let otherStore = try PostgresTokenStore.create(connectionString: other, location: "other")
            let error = #expect(throws: StateBindingError.self) {
                try StateBinding.openStore(Self.location, vault: vault, environment: ["URL": other])
            }
            #expect(error?.description.contains(otherStore.identity.id) == true)
            #expect(error?.description.contains(vault.path) == true)
        }
    }

    @Test func aNewVaultsFirstTokenPutMakesItsStoreOnPostgres() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            let store = try StateBinding.openStore(
                Self.location, vault: vault, source: .createForNewVault, environment: environment)
            #expect(try vault.storeBinding()?.storeID == store.identity.id)
            let custodian = TokenCustodian(vault: vault, store: store)
            try custodian.put(
                TokenKey(tenant: "t1", user: "u1", provider: "p"), token: SecretText("rt"), issuedAt: Date(),
                expiresAt: nil)
            // Now that it has held tokens, a missing store is never made again.
            let (_, emptyDatabase) = try Self.emptyState(folder + "/2")
            #expect(throws: StateBindingError.self) {
                try StateBinding.openStore(
                    Self.location, vault: vault, source: .createForNewVault, environment: emptyDatabase)
            }
        }
    }

    @Test func aConnectionStringFileMustBePrivate() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            let file = folder + "/store.url"
            try Data((environment["URL"]! + "\n").utf8).write(to: URL(fileURLWithPath: file))
            let location = StoreLocation.postgres(connection: .file(file), tls: .verifiedOffHost)
            chmod(file, 0o644)
            let error = #expect(throws: InsecurePermissionsError.self) {
                try StateBinding.openStore(location, vault: vault, source: .create(replacing: false))
            }
            #expect(error?.description.contains(environment["URL"]!) == false)
            chmod(file, 0o600)
            let store = try StateBinding.openStore(location, vault: vault, source: .create(replacing: false))
            #expect(store.location == "postgres:file:" + file)
        }
    }

    @Test func aServerOffThisHostIsReachedWithVerifyFullUnlessTheSpecSaysUnverified() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            _ = try StateBinding.openStore(
                Self.location, vault: vault, source: .create(replacing: false), environment: environment)
            // libpq tries the hosts in turn: the socket answers, but the string names a host off this machine too.
            let server = try PostgresTestServer.shared()
            let mixed =
                environment["URL"]!.replacingOccurrences(
                    of: "host=\(server.folder)", with: "host=\(server.folder),db.example.invalid") + " sslmode=disable"
            for (tls, expected) in [(PostgresTLS.verifiedOffHost, "verify-full"), (.unverified, "disable")] {
                let store = try StateBinding.openStore(
                    .postgres(connection: .environment("URL"), tls: tls), vault: vault, readOnly: true,
                    environment: ["URL": mixed])
                let postgres = try #require(store as? PostgresTokenStore)
                #expect(postgres.connection.effectiveOption("sslmode") == expected)
                let session = try #require(try postgres.openSession() as? PostgresTokenStore)
                #expect(session.connection.effectiveOption("sslmode") == expected)
            }
        }
    }

    @Test func everySessionOfTheStoreHasStatementAndLockTimeouts() throws {
        try withTemporaryDirectory { folder in
            let (vault, environment) = try Self.emptyState(folder)
            let store = try StateBinding.openStore(
                Self.location, vault: vault, source: .create(replacing: false), environment: environment)
            for session in [store, try store.openSession()] {
                let connection = try #require(session as? PostgresTokenStore).connection
                #expect(
                    try connection.query("SELECT current_setting('statement_timeout')", purpose: "t").text(0, 0)
                        == "2min")
                #expect(
                    try connection.query("SELECT current_setting('lock_timeout')", purpose: "t").text(0, 0) == "2min")
            }
        }
    }

    @Test func theJobLocksSessionHasStatementAndLockTimeouts() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let spec = try JobSpec.load(
                path: try world.writeSpec(
                    """
                    stages:
                      - name: rotate-keys
                        kind: rotate
                        tenants: all
                        max_key_age: 30d

                    """))
            let hold = try JobLockHold.acquire(
                spec: spec, options: RunOptions(defaultPrincipal: "pipeline", environment: world.environment),
                runID: "test")
            let connection = try #require(hold.serverLock?.connection)
            for setting in ["statement_timeout", "lock_timeout"] {
                #expect(
                    try connection.query("SELECT current_setting($1)", [.text(setting)], purpose: "t").text(0, 0)
                        == "2min", "\(setting)")
            }
        }
    }

    @Test func losingTheServerMidRefreshIsTransientLosesNothingAndTheNextRunFinishes() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try await ServerLossScenario.run(world: world, stall: 1.5) {
                let ended = try world.connection().query(
                    """
                    SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()
                    """, purpose: "end the job's sessions")
                #expect(ended.int(0, 0) >= 2)  // the job lock's session and the store's
            }
        }
    }
}

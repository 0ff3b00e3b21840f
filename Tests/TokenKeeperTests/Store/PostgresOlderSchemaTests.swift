import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// A PostgreSQL store an older tokenkeeper left at schema 1 (before envelope encryption): a read-only open
/// reads its old-format rows without migrating or writing anything (empty temporary tables stand in for
/// `token_keys` and `state_mark`), a writing open migrates it as before, and a role that may not create
/// temporary tables gets an error that names the grant.
@Suite struct PostgresOlderSchemaTests {
    static let users = ["u0", "u1", "u2"]

    @Test func everyTableALaterMigrationAddsHasAStandInForReadOnlySessionsOfOlderSchemas() throws {
        let pattern = try Regex(#"CREATE TABLE (?:IF NOT EXISTS )?(\w+)"#)
        var added: [String] = []
        for (index, migration) in PostgresSchema.migrations.enumerated().dropFirst() {
            for match in migration.matches(of: pattern) {
                added.append("\(index + 1) \(match.output[1].substring ?? "")")
            }
        }
        #expect(added == PostgresSchema.laterTables.map { "\($0.version) \($0.name)" })
    }

    /// A world whose store is at schema 1 and holds tokens of `users` in tenant t1 in the old format, sealed
    /// under the vault's keys (the vault records that its store holds tokens).
    private func schemaOneWorld(folder: String) async throws -> PostgresJobWorld {
        let world = try await PostgresJobWorld.make(folder: folder)
        let custodian = try world.custodian()
        try custodian.recordThatTheStoreHoldsTokens()
        let rows = try Self.users.map { user in
            let key = TokenKey(tenant: "t1", user: user, provider: "local")
            let (version, sealed) = try custodian.sealInOldFormat(JobFixture.token(for: key), for: key, secret: "t1")
            return StoredToken(
                key: key, secretName: "t1", keyVersion: version, sealedToken: sealed, issuedAt: world.origin)
        }
        try PostgresSchemaOneStore.replace(connectionString: world.connectionString, rows: rows)
        #expect(try PostgresSchemaOneStore.schema(connectionString: world.connectionString) == (1, []))
        return world
    }

    @Test func aReadOnlyOpenOfASchemaOneStoreReadsItsOldFormatTokensAndWritesNothing() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await schemaOneWorld(folder: folder)
            let before = try world.tableDump()
            let store = try PostgresTokenStore(
                connectionString: world.connectionString, location: "postgres:test", readOnly: true)
            #expect(try store.count() == 3)
            #expect(try store.oldFormatCounts() == ["t1": 3])
            #expect(try store.keyVersionCounts(tenant: "t1") == [1: 3])
            #expect(try store.stateMark() == nil)
            let row = try #require(try store.get(TokenKey(tenant: "t1", user: "u1", provider: "local")))
            #expect(row.keyVersion == 1 && row.wrappedKey == nil)
            // Through the binding, as every command opens it, and with a session of its own.
            let vault = try FileVault.open(
                at: folder + "/state/vault", masterKey: world.masterKey, principal: "pipeline", readOnly: true)
            let bound = try StateBinding.openStore(
                .postgres(connection: .environment("URL"), tls: .verifiedOffHost), vault: vault, readOnly: true,
                environment: ["URL": world.connectionString])
            let custodian = TokenCustodian(vault: vault, store: try bound.openSession())
            for user in Self.users {
                let key = TokenKey(tenant: "t1", user: user, provider: "local")
                #expect(try custodian.open(key).revealed == JobFixture.token(for: key).revealed)
            }
            #expect(try world.tableDump() == before)
            #expect(try PostgresSchemaOneStore.schema(connectionString: world.connectionString) == (1, []))
        }
    }

    @Test func tokenShowStatusAndADryRunReadASchemaOneStoreAndLeaveItAtSchemaOne() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await schemaOneWorld(folder: folder)
            try world.writeSpec(
                "stages:\n  - name: rotate-keys\n    kind: rotate\n    tenants: all\n    max_key_age: 30d\n")
            let before = try world.tableDump()
            let show = try await world.run(["token", "show", "--tenant", "t1", "--user", "u2", "--provider", "local"])
            #expect(show.status == 0, "\(show.output)")
            #expect(show.stdout.contains("u2") && show.stdout.contains("active"), "\(show.stdout)")
            let list = try await world.run(["token", "list"])
            #expect(list.status == 0 && Self.users.allSatisfy(list.stdout.contains), "\(list.output)")
            let status = try await world.run(["status"])
            #expect(status.status == 0, "\(status.output)")
            #expect(status.stdout.contains("t1: key version 1"), "\(status.stdout)")
            let dry = try await world.run(["run", "job.yml", "--dry-run", "--report-dir", "out"])
            #expect(dry.status == 0, "\(dry.output)")
            #expect(dry.stderr.contains("rotate-keys: 1 tenant: would rotate 1"), "\(dry.stderr)")
            let report = try String(contentsOfFile: folder + "/out/pg-job.xml", encoding: .utf8)
            #expect(report.contains("migrate 3 tokens to envelope encryption"), "\(report)")
            #expect(try world.tableDump() == before)
            #expect(try PostgresSchemaOneStore.schema(connectionString: world.connectionString) == (1, []))
        }
    }

    @Test func aReadOnlyOpenOfASchemaTwoStoreReadsItsRealDataKeysAndStandsInOnlyForTheStateMark() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let custodian = try world.custodian()
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try custodian.put(key, token: JobFixture.token(for: key), issuedAt: world.origin, expiresAt: nil)
            // Back to schema 2, as the release before `state copy` left it: envelope rows, no state_mark.
            try world.connection().execute(
                "DROP TABLE state_mark; DELETE FROM schema_migrations WHERE version = 3", purpose: "test: schema 2")
            let vault = try FileVault.open(
                at: folder + "/state/vault", masterKey: world.masterKey, principal: "pipeline", readOnly: true)
            let store = try PostgresTokenStore(
                connectionString: world.connectionString, location: "postgres:test", readOnly: true)
            #expect(try store.get(key)?.wrappedKey != nil)
            #expect(
                try TokenCustodian(vault: vault, store: store).open(key).revealed == JobFixture.token(for: key).revealed
            )
            #expect(try store.stateMark() == nil)
            #expect(try PostgresSchemaOneStore.schema(connectionString: world.connectionString) == (2, ["token_keys"]))
        }
    }

    @Test func aReadOnlySessionOpenAcrossAnUpgradeStillOpensOldRowsAndFailsOnRowsMovedMeanwhile() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await schemaOneWorld(folder: folder)
            let vault = try FileVault.open(
                at: folder + "/state/vault", masterKey: world.masterKey, principal: "pipeline", readOnly: true)
            let reader = TokenCustodian(
                vault: vault,
                store: try PostgresTokenStore(
                    connectionString: world.connectionString, location: "postgres:test", readOnly: true))
            // Another process upgrades the store and moves u0's token to envelope encryption.
            let writer = try world.custodian()
            let moved = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try writer.put(moved, token: SecretText("rt.new"), issuedAt: world.origin, expiresAt: nil)
            let kept = TokenKey(tenant: "t1", user: "u1", provider: "local")
            #expect(try reader.open(kept).revealed == JobFixture.token(for: kept).revealed)
            #expect(throws: (any Error).self) { try reader.open(moved) }
            #expect(try writer.open(moved).revealed == "rt.new")
        }
    }

    @Test func aWritingOpenOfASchemaOneStoreStillMigratesItAndItsOldRowsStayReadable() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await schemaOneWorld(folder: folder)
            let store = try PostgresTokenStore(connectionString: world.connectionString, location: "postgres:test")
            #expect(
                try PostgresSchemaOneStore.schema(connectionString: world.connectionString)
                    == (PostgresSchema.currentVersion, ["token_keys", "state_mark"]))
            #expect(try store.oldFormatCounts() == ["t1": 3])
            #expect(try store.keyVersionCounts(tenant: "t1") == [1: 3])
            let opened = try world.openEveryToken()
            #expect(opened.count == 3)
            for (key, token) in opened.tokens { #expect(token == JobFixture.token(for: key).revealed) }
        }
    }

    /// A database whose store (schema 1, one old-format row) belongs to a role made by
    /// scripts/postgres/store-role.sql, in a database that revokes TEMPORARY from PUBLIC (as hardened
    /// databases do). Returns the role's connection string and a superuser session on the database.
    private func schemaOneStoreOfTheScriptsRole() throws -> (
        asRole: String, superuser: PostgresConnection, role: String
    ) {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let role = "tk_store_\(database.suffix(12))"
        let superuser = try PostgresConnection(
            connectionString: server.connectionString(database: database), location: "test", readOnly: false)
        try superuser.execute("REVOKE TEMPORARY ON DATABASE \(database) FROM PUBLIC", purpose: "test: harden")
        let script = try String(
            contentsOfFile: TestEnvironment.packageRoot + "/scripts/postgres/store-role.sql", encoding: .utf8)
        try superuser.execute(script.replacingOccurrences(of: "tokenkeeper_store", with: role), purpose: "test: role")
        let asRole = "host=\(server.folder) dbname=\(database) user=\(role)"
        _ = try PostgresTokenStore.create(connectionString: asRole, location: "postgres:test")
        let row = StoredToken(
            key: TokenKey(tenant: "t1", user: "u0", provider: "local"), secretName: "t1", keyVersion: 1,
            sealedToken: [1, 2, 3], issuedAt: Date())
        try PostgresSchemaOneStore.replace(connectionString: asRole, rows: [row])
        return (asRole, superuser, role)
    }

    @Test func theStoreRoleOfTheScriptReadsAnOlderSchemaReadOnlyWhereTemporaryTablesAreRevokedFromPublic() throws {
        let (asRole, _, _) = try schemaOneStoreOfTheScriptsRole()
        let store = try PostgresTokenStore(connectionString: asRole, location: "postgres:test", readOnly: true)
        #expect(try store.count() == 1 && store.stateMark() == nil)
        #expect(try PostgresSchemaOneStore.schema(connectionString: asRole) == (1, []))
    }

    @Test func aRoleThatMayNotCreateTemporaryTablesGetsAnErrorNamingTheGrantOnAReadOnlyOpenOfAnOlderSchema() throws {
        let (asRole, superuser, role) = try schemaOneStoreOfTheScriptsRole()
        let database = try superuser.query("SELECT current_database()::text", purpose: "test").text(0, 0)
        try superuser.execute("REVOKE TEMPORARY ON DATABASE \(database) FROM \(role)", purpose: "test: revoke")
        let error = try #require(throws: StoreError.self) {
            try PostgresTokenStore(connectionString: asRole, location: "postgres:test", readOnly: true)
        }
        #expect(
            error.description
                == StoreError.noTemporaryTables(path: "postgres:test", found: 1, known: PostgresSchema.currentVersion)
                .description)
        #expect(error.remedy.contains("GRANT TEMPORARY ON DATABASE") && error.exitStatus == .environment)
        #expect(!error.description.contains(database) && !error.description.contains(role))
        #expect(try PostgresSchemaOneStore.schema(connectionString: asRole) == (1, []))
    }

    @Test func stateInitOnAnOlderStoreWhoseRoleMayNotCreateTemporaryTablesSaysAStoreIsThere() throws {
        try withTemporaryDirectory { folder in
            let (asRole, superuser, role) = try schemaOneStoreOfTheScriptsRole()
            let database = try superuser.query("SELECT current_database()::text", purpose: "test").text(0, 0)
            try superuser.execute("REVOKE TEMPORARY ON DATABASE \(database) FROM \(role)", purpose: "test: revoke")
            let vault = try FileVault.initialize(
                at: folder + "/vault", masterKey: try MasterKey.generate(), principal: "pipeline")
            let error = try #require(throws: StoreError.self) {
                try StateBinding.openStore(
                    .postgres(connection: .environment("URL"), tls: .verifiedOffHost), vault: vault,
                    source: .create(replacing: false), environment: ["URL": asRole])
            }
            guard case .exists = error else {
                Issue.record("expected `exists`, got: \(error)")
                return
            }
        }
    }

    @Test func aSearchPathThatLeadsANameToAnotherTableThanTheStandInRefusesTheReadOnlyOpen() throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let superuser = try PostgresConnection(
            connectionString: server.connectionString(database: database), location: "test", readOnly: false)
        try superuser.execute("CREATE SCHEMA older", purpose: "test: schema")
        // The store in `older`, and `pg_temp` named after `public`, which holds a table called token_keys.
        let pathed = server.connectionString(database: database) + " options='-csearch_path=older,public,pg_temp'"
        _ = try PostgresTokenStore.create(connectionString: pathed, location: "postgres:test")
        try PostgresSchemaOneStore.replace(connectionString: pathed, rows: [])
        try superuser.execute("CREATE TABLE public.token_keys (token_id bigint)", purpose: "test: another table")
        let error = try #require(throws: StoreError.self) {
            try PostgresTokenStore(connectionString: pathed, location: "postgres:test", readOnly: true)
        }
        #expect(
            error.description
                == StoreError.needsMigration(path: "postgres:test", found: 1, known: PostgresSchema.currentVersion)
                .description)
        // Without `pg_temp` in the path, the stand-in comes first, whatever else the path holds.
        let plain = server.connectionString(database: database) + " options='-csearch_path=older,public'"
        #expect(try PostgresTokenStore(connectionString: plain, location: "postgres:test", readOnly: true).count() == 0)
    }
}

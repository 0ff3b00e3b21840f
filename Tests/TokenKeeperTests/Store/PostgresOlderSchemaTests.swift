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
}

import Foundation
import Testing

@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// `state copy` between the embedded store and PostgreSQL, both ways, in the library (the vaults are
/// folders; the stores SQLite and a database on the test server).
@Suite struct StateCopyPostgresTests {
    typealias World = StateCopyTests.World

    static func newPostgresStore() throws -> (store: PostgresTokenStore, connectionString: String) {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        return (
            try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test"),
            connectionString
        )
    }

    @Test func sqliteToPostgresAndBackKeepsEveryRowAndEveryTokenOpens() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let original = try World.rows(SQLiteTokenStore(path: world.fixture.storePath))
            let source = try world.sourceVault()

            // Embedded -> PostgreSQL.
            let (server, connectionString) = try Self.newPostgresStore()
            let serverVault = try world.destinationVault()
            let toServer = StateCopier(
                sourceVault: source,
                sourceStore: try StateBinding.openStore(at: world.fixture.storePath, vault: source),
                destinationVault: serverVault, destinationStore: server)
            toServer.batchSize = 5
            let first = try toServer.run()
            #expect(first.rows == original.count && first.tokensOpened == 2 * World.users - 1)
            let onServer = try World.rows(server)
            #expect(onServer.count == original.count && zip(original, onServer).allSatisfy { $0.sameState(as: $1) })
            #expect(try serverVault.storeBinding()?.storeID == server.identity.id)

            // PostgreSQL -> embedded, into a third vault.
            let backKey = try MasterKey.generate()
            let backVault = try FileVault.initialize(
                at: folder + "/moved/back-vault", masterKey: backKey, principal: "pipeline")
            let backStore = try StateBinding.openStore(
                at: folder + "/moved/back.db", vault: backVault, source: .createForNewVault)
            let back = StateCopier(
                sourceVault: serverVault, sourceStore: server, destinationVault: backVault, destinationStore: backStore)
            let second = try back.run()
            #expect(second.tenants == first.tenants && second.secrets == first.secrets)
            let returned = try World.rows(backStore)
            #expect(returned.count == original.count && zip(original, returned).allSatisfy { $0.sameState(as: $1) })
            let custodian = TokenCustodian(vault: backVault, store: backStore)
            for row in returned where row.token.sealedToken != nil && row.token.key.tenant != "gone" {
                #expect(try custodian.open(row.token) == JobFixture.token(for: row.token.key))
            }

            // The PostgreSQL store is now marked moved: it does not open, and a live session takes no lease.
            #expect(throws: StateMarkError.moved(location: "postgres:test", destination: back.destinationName)) {
                try PostgresTokenStore(connectionString: connectionString, location: "postgres:test")
            }
            #expect(throws: StateMarkError.self) {
                try server.acquireLease(
                    TokenKey(tenant: "t2", user: "u0", provider: "entra"), owner: "web", until: Date() + 60)
            }
        }
    }

    @Test func aFrozenPostgresStoreRefusesLeasesLateCommitsAndRowWritesButLetsALiveLeaseCommit() throws {
        let (store, _) = try Self.newPostgresStore()
        let key = TokenKey(tenant: "t1", user: "u1", provider: "entra")
        let other = TokenKey(tenant: "t1", user: "u2", provider: "entra")
        for row in [key, other] {
            try store.put(
                StoredToken(key: row, secretName: "t1", keyVersion: 1, sealedToken: [1, 2, 3], issuedAt: Date()))
        }
        #expect(try store.acquireLease(key, owner: "web-1", until: Date() + 60))
        try store.setStateMark(StateMark(kind: .frozen, peer: "elsewhere", copyID: "c"))

        #expect(try store.liveLeaseCount(now: Date()) == 1)
        #expect(throws: StateMarkError.frozen(location: "postgres:test", destination: "elsewhere")) {
            try store.acquireLease(other, owner: "web-2", until: Date() + 60)
        }
        #expect(throws: StateMarkError.self) {
            try store.commitRefreshed(
                other, replacing: [1, 2, 3], owner: "web-2", secretName: "t1", keyVersion: 1, sealedToken: [4],
                refreshedAt: Date(), expiresAt: nil)
        }
        #expect(throws: StateMarkError.self) {
            try store.put(StoredToken(key: other, secretName: "t1", keyVersion: 1, sealedToken: [9], issuedAt: Date()))
        }
        #expect(throws: StateMarkError.self) { try store.delete(other) }
        let copied = [CopiedTokenRow(token: try #require(try store.get(other)))]
        let refused = #expect(throws: StoreError.self) { try store.insertCopiedRows(copied) }
        #expect(refused?.description == StoreError.notReceiving(path: "postgres:test").description)
        #expect(
            try store.commitRefreshed(
                key, owner: "web-1", secretName: "t1", keyVersion: 1, sealedToken: [5, 6], refreshedAt: Date(),
                expiresAt: nil))
        #expect(try store.get(other)?.sealedToken == [1, 2, 3])
    }
}

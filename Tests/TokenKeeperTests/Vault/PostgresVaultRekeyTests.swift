import Crypto
import Foundation
import Testing

@testable import PostgresClient
@testable import Vault

/// `rekey` of the PostgreSQL vault: one transaction that moves every wrapped key and every row MAC to a
/// new master key, or changes nothing. Against the test process's server.
@Suite struct PostgresVaultRekeyTests {
    private struct Fixture {
        let connectionString: String
        let masterKey: MasterKey
        let admin: PostgresVault
        let sql: PostgresConnection

        init() throws {
            let server = try PostgresTestServer.shared()
            connectionString = server.connectionString(database: try server.createDatabase())
            masterKey = try MasterKey.generate()
            admin = try PostgresVault.initialize(
                connectionString: connectionString, location: "postgres:test", masterKey: masterKey,
                principal: "admin")
            sql = try PostgresConnection(connectionString: connectionString, location: "test", readOnly: false)
            // t1 with versions 1 (disabled), 2 and 3; gone, soft-deleted; a policy for app.
            _ = try admin.createSecret("t1")
            _ = try admin.addVersion(to: "t1")
            _ = try admin.addVersion(to: "t1")
            try admin.disableVersion(secret: "t1", version: 1)
            _ = try admin.createSecret("gone")
            try admin.deleteSecret("gone")
            try admin.setPolicy(for: "app", permissions: [.get, .list])
        }

        func open(_ key: MasterKey? = nil, as principal: String = "admin", readOnly: Bool = false) throws
            -> PostgresVault
        {
            try PostgresVault.open(
                connectionString: connectionString, location: "postgres:test", masterKey: key ?? masterKey,
                principal: principal, readOnly: readOnly)
        }

        /// Every row of the tables a rekey rewrites (not the audit log, which every call adds to).
        func dump() throws -> [String: Data] {
            try VaultBackend.postgresVaultDump(connectionString).filter { $0.key != "vault_audit" }
        }
    }

    @Test func aRekeyMovesEveryKeyAndRowToTheNewMasterKeyAndOnlyItOpensTheVault() throws {
        let vault = try Fixture()
        let keys = try (1...3).map { try vault.admin.dataKey(secret: "t1", version: $0) }
        let newKey = try MasterKey.generate()
        try vault.admin.rekey(to: newKey)
        #expect(throws: VaultError.wrongMasterKey(vault: "postgres:test")) { _ = try vault.open() }
        let reopened = try vault.open(newKey)
        #expect(try (1...3).map { try reopened.dataKey(secret: "t1", version: $0) } == keys)
        #expect(try reopened.versions(of: "t1").map(\.enabled) == [false, true, true])
        #expect(try reopened.deletedSecrets().map(\.name) == ["gone"])
        try reopened.recoverSecret("gone")
        _ = try reopened.dataKey(secret: "gone", version: 1)
        #expect(try vault.open(newKey, as: "app").policies().count == 2)
        let audit = try reopened.auditEntries(last: 100)
        #expect(audit.first?.contains("\"operation\":\"init\"") == true)
        #expect(audit.contains { $0.contains("\"operation\":\"rekey\"") && $0.contains("\"outcome\":\"ok\"") })
        let ids = try vault.sql.query("SELECT DISTINCT master_key_id FROM vault_versions", purpose: "test")
        let newKeyID = try newKey.identifier
        #expect(ids.count == 1 && ids.text(0, 0) == newKeyID)
        #expect(try reopened.addVersion(to: "t1").number == 4)
    }

    @Test func aRekeyNeedsEveryPermissionAndStopsAtAnEditedRowChangingNothing() throws {
        let vault = try Fixture()
        let before = try vault.dump()
        try vault.admin.setPolicy(for: "app", permissions: Set(VaultPermission.allCases).subtracting([.purge]))
        let error = #expect(throws: VaultError.self) { try vault.open(as: "app").rekey(to: try MasterKey.generate()) }
        #expect(error == .permissionDenied(principal: "app", permission: .purge, operation: "rekey", secret: nil))
        try vault.admin.setPolicy(for: "app", permissions: [.get, .list])
        #expect(throws: VaultError.readOnly(operation: "rekey")) {
            try vault.open(readOnly: true).rekey(to: try MasterKey.generate())
        }
        #expect(try vault.dump() == before)
        // An audit entry edited in SQL: the rekey is refused and nothing moves.
        try vault.sql.execute("UPDATE vault_audit SET outcome = 'ok' WHERE outcome = 'denied'", purpose: "test edit")
        let refused = #expect(throws: VaultError.self) { try vault.admin.rekey(to: try MasterKey.generate()) }
        guard case .corrupt(let item, _) = refused else {
            Issue.record("\(String(describing: refused))")
            return
        }
        #expect(item == "postgres:test table vault_audit")
        #expect(try vault.dump() == before)
        #expect(
            try vault.open().dataKey(secret: "t1", version: 2) == (try vault.admin.dataKey(secret: "t1", version: 2)))
    }

    @Test func aSessionStillOnTheOldKeyIsRefusedEveryCallAfterARekey() throws {
        let vault = try Fixture()
        let other = try vault.open()
        let newKey = try MasterKey.generate()
        try vault.admin.rekey(to: newKey)
        #expect(throws: VaultError.wrongMasterKey(vault: "postgres:test")) { _ = try other.addVersion(to: "t1") }
        #expect(throws: VaultError.wrongMasterKey(vault: "postgres:test")) {
            try other.setPolicy(for: "app", permissions: Set(VaultPermission.allCases))
        }
        #expect(throws: VaultError.wrongMasterKey(vault: "postgres:test")) {
            _ = try other.dataKey(secret: "t1", version: 1)
        }
        #expect(try vault.open(newKey).versions(of: "t1").map(\.number) == [1, 2, 3])
        #expect(try vault.open(newKey).policies().first { $0.principal == "app" }?.permissions == [.get, .list])
    }

    @Test func aChangeStartedDuringARekeyWaitsForItAndIsRefusedNeverLeftUnderTheOldKey() throws {
        let vault = try Fixture()
        let admin = vault.admin, other = try vault.open()
        let newKey = try MasterKey.generate()
        /// How many sessions of the vault's database wait for a lock now.
        func waiting() throws -> Int64 {
            try vault.sql.query(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                purpose: "test"
            ).int(0, 0)
        }
        /// Waits (up to 10 s, polling every 20 ms) until `count` sessions wait for a lock.
        func awaitWaiting(_ count: Int64) throws -> Bool {
            for _ in 0..<500 {
                if try waiting() >= count { return true }
                usleep(20_000)
            }
            return false
        }
        // Hold t1's row, so the rekey stops there, after it has locked the vault and read every secret.
        try vault.sql.execute("BEGIN; SELECT * FROM vault_secrets WHERE name = 't1' FOR UPDATE", purpose: "test lock")
        let rekeyed = Locked<(any Error)?>(nil), created = Locked<Result<Int, any Error>?>(nil)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            do { try admin.rekey(to: newKey) } catch { rekeyed.update { $0 = error } }
        }
        #expect(try awaitWaiting(1), "the rekey never reached t1's row")
        // A new secret while the rekey is under way: its check passes under the old key, its change must wait.
        DispatchQueue.global().async(group: group) {
            let result = Result { try other.createSecret("t9").number }
            created.update { $0 = result }
        }
        _ = try awaitWaiting(2)
        try vault.sql.execute("COMMIT", purpose: "test unlock")
        #expect(group.wait(timeout: .now() + 60) == .success)
        #expect(rekeyed.value == nil)
        guard case .failure(let error) = created.value else {
            Issue.record("createSecret during the rekey gave \(String(describing: created.value))")
            return
        }
        #expect(error as? VaultError == .wrongMasterKey(vault: "postgres:test"))
        // Everything is under the new key.
        #expect(try vault.open(newKey).secrets().map(\.name) == ["t1"])
    }
}

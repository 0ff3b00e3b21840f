import Foundation
import Support
import Testing

@testable import PostgresClient
@testable import Store
@testable import Vault

/// What the PostgreSQL vault does beyond the ``KeyVault`` contract (which `VaultConformanceTests` runs
/// against it): rows edited in SQL refused naming the row, errors that never show the connection string,
/// version numbers given once across sessions, the audit committed with each change, its own role, and a
/// session that comes back after it was lost. Against the test process's server.
@Suite struct PostgresVaultTests {
    /// A new vault made by `admin` in a new database, with an administrator's session on that database.
    private struct Fixture {
        let connectionString: String
        let masterKey: MasterKey
        let admin: PostgresVault
        /// The server's superuser on the vault's database, to edit rows as someone without the master key would.
        let sql: PostgresConnection

        init() throws {
            let server = try PostgresTestServer.shared()
            connectionString = server.connectionString(database: try server.createDatabase())
            masterKey = try MasterKey.generate()
            admin = try PostgresVault.initialize(
                connectionString: connectionString, location: "postgres:env:TEST_VAULT_URL", masterKey: masterKey,
                principal: "admin")
            sql = try PostgresConnection(connectionString: connectionString, location: "test", readOnly: false)
        }

        func open(as principal: String = "admin", masterKey: MasterKey? = nil, readOnly: Bool = false) throws
            -> PostgresVault
        {
            try PostgresVault.open(
                connectionString: connectionString, location: "postgres:env:TEST_VAULT_URL",
                masterKey: masterKey ?? self.masterKey, principal: principal, readOnly: readOnly)
        }
    }

    // MARK: - Integrity

    @Test func anEditedVersionRowIsRefusedNamingTheSecretAndVersionAndHarmsNoOtherSecret() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        _ = try vault.admin.addVersion(to: "t1")
        _ = try vault.admin.addVersion(to: "t1")
        _ = try vault.admin.createSecret("t2")
        try vault.admin.disableVersion(secret: "t1", version: 1)
        let t2Key = try vault.admin.dataKey(secret: "t2", version: 1)
        let edits = [
            "UPDATE vault_versions SET enabled = true WHERE secret = 't1' AND version = 1",
            // Version 3's wrapped key, which opens under the master key, in version 2's row.
            """
            UPDATE vault_versions SET wrapped_key = (SELECT wrapped_key FROM vault_versions WHERE secret = 't1' AND version = 3)
            WHERE secret = 't1' AND version = 2
            """,
            "UPDATE vault_versions SET created_at = created_at + 1 WHERE secret = 't1' AND version = 2",
        ]
        for edit in edits {
            let before = try vault.sql.query(
                "SELECT version, enabled, wrapped_key, created_at FROM vault_versions WHERE secret = 't1' ORDER BY version",
                purpose: "test")
            let saved = (0..<before.count).map {
                (before.int($0, 0), before.int($0, 1) != 0, before.bytes($0, 2)!, before.int($0, 3))
            }
            try vault.sql.execute(edit, purpose: "test edit")
            let reads: [() throws -> Void] = [
                { _ = try vault.open().versions(of: "t1") }, { _ = try vault.admin.dataKey(secret: "t1", version: 3) },
            ]
            for read in reads {
                let error = #expect(throws: VaultError.self, "\(edit)") { try read() }
                guard case .corruptSecret("t1", _, let detail) = error else {
                    Issue.record("\(edit): \(String(describing: error))")
                    continue
                }
                #expect(detail.contains("version") && detail.contains("MAC"), "\(detail)")
                #expect(error?.description.contains("postgres:env:TEST_VAULT_URL table vault_versions") == true)
            }
            // Another secret still opens.
            #expect(try vault.admin.dataKey(secret: "t2", version: 1) == t2Key)
            for (version, enabled, wrapped, created) in saved {
                try vault.sql.query(
                    "UPDATE vault_versions SET enabled = $2, wrapped_key = $3, created_at = $4 WHERE secret = 't1' AND version = $1",
                    [.int4(Int32(version)), .bool(enabled), .bytea(wrapped), .int8(created)], purpose: "test restore")
            }
            #expect(try vault.open().versions(of: "t1").map(\.enabled) == [false, true, true])
        }
    }

    @Test func aVersionRowMovedToAnotherNumberOrSecretIsRefused() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        _ = try vault.admin.addVersion(to: "t1")
        _ = try vault.admin.createSecret("t2")
        // t1's version 1 row moved into t2 (in place of t2's own version 1).
        try vault.sql.execute(
            "DELETE FROM vault_versions WHERE secret = 't2'; UPDATE vault_versions SET secret = 't2' WHERE secret = 't1' AND version = 1",
            purpose: "test edit")
        // Listing opens no key, so only the row's MAC (over its secret's name) tells.
        let error = #expect(throws: VaultError.self) { _ = try vault.admin.versions(of: "t2") }
        guard case .corruptSecret("t2", _, let detail) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(detail.contains("version 1") && detail.contains("MAC"))
    }

    @Test func aDeletedLatestVersionRowIsNoticedAndItsNumberNeverGivenAgain() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        _ = try vault.admin.addVersion(to: "t1")
        try vault.sql.execute("DELETE FROM vault_versions WHERE secret = 't1' AND version = 2", purpose: "test edit")
        let error = #expect(throws: VaultError.self) { _ = try vault.admin.latestDataKey(secret: "t1") }
        guard case .corruptSecret("t1", _, let detail) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(detail.contains("latest version 2 is missing"))
        #expect(throws: VaultError.self) { _ = try vault.admin.addVersion(to: "t1") }
    }

    @Test func anEditedPolicyRowIsRefusedNamingThePrincipal() throws {
        let vault = try Fixture()
        try vault.admin.setPolicy(for: "app", permissions: [.get])
        try vault.sql.execute(
            "UPDATE vault_policies SET permissions = 'get,list,set,delete,recover,purge' WHERE principal = 'app'",
            purpose: "test edit")
        // Every open checks every policy, so nobody works on an edited policy table.
        for principal in ["app", "admin"] {
            let error = #expect(throws: VaultError.self) { _ = try vault.open(as: principal) }
            guard case .corrupt(let item, let detail) = error else {
                Issue.record("\(String(describing: error))")
                continue
            }
            #expect(item == "postgres:env:TEST_VAULT_URL table vault_policies")
            #expect(detail.contains("principal 'app'") && detail.contains("MAC"))
        }
        // A policy copied to another principal does not match either.
        try vault.sql.execute(
            "DELETE FROM vault_policies WHERE principal = 'app'; INSERT INTO vault_policies SELECT 'mallory', permissions, mac FROM vault_policies WHERE principal = 'admin'",
            purpose: "test edit")
        let error = #expect(throws: VaultError.self) { _ = try vault.open(as: "mallory").secrets() }
        #expect(error?.description.contains("principal 'mallory'") == true)
    }

    @Test func anEditedVaultRowIsCorruptionNotAWrongMasterKey() throws {
        let vault = try Fixture()
        try vault.admin.bindStore("store-a", heldTokens: true, replacing: nil)
        try vault.sql.execute("UPDATE vault_meta SET store_id = 'store-b'", purpose: "test edit")
        let error = #expect(throws: VaultError.self) { _ = try vault.open() }
        guard case .corrupt(let item, _) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(item == "postgres:env:TEST_VAULT_URL table vault_meta")
        #expect(throws: VaultError.self) { _ = try vault.admin.storeBinding() }
    }

    @Test func aWrongMasterKeyIsNamedAsSuchNotAsCorruption() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        for readOnly in [false, true] {
            let error = #expect(throws: VaultError.self) {
                _ = try vault.open(masterKey: try MasterKey.generate(), readOnly: readOnly)
            }
            #expect(error == .wrongMasterKey(vault: "postgres:env:TEST_VAULT_URL"))
        }
    }

    @Test func anEditedAuditEntryIsRefusedNamingIt() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        #expect(try vault.admin.auditEntries(last: 10).contains { $0.contains("\"operation\":\"create secret\"") })
        try vault.sql.execute(
            "UPDATE vault_audit SET principal = 'someone-else' WHERE operation = 'create secret'", purpose: "test edit")
        let error = #expect(throws: VaultError.self) { _ = try vault.admin.auditEntries(last: 10) }
        guard case .corrupt(let item, let detail) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(item == "postgres:env:TEST_VAULT_URL table vault_audit" && detail.hasPrefix("entry "))
    }

    // MARK: - Audit

    @Test func everyCallIsAuditedAndAChangesEntryIsCommittedWithTheChange() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        try vault.admin.setPolicy(for: "app", permissions: [.list])
        let app = try vault.open(as: "app")
        #expect(throws: VaultError.self) { _ = try app.dataKey(secret: "t1", version: 1) }
        _ = try vault.admin.dataKey(secret: "t1", version: 1)
        #expect(throws: VaultError.self) { _ = try vault.admin.createSecret("t1") }
        _ = try vault.open(readOnly: true).dataKey(secret: "t1", version: 1)
        let entries = try vault.admin.auditEntries(last: 100)
        let outcomes = entries.map { line in
            ["principal", "operation", "outcome"].map { field in
                line.components(separatedBy: "\"\(field)\":\"").dropFirst().first?.components(separatedBy: "\"").first
                    ?? ""
            }.joined(separator: "|")
        }
        #expect(
            outcomes == [
                "admin|init|ok", "admin|create secret|ok", "admin|set policy for app|ok", "app|get key|denied",
                "admin|get key|ok", "admin|create secret|error", "admin|read the audit log|ok",
            ])
        // A change whose audit entry cannot be written is not made.
        try vault.sql.execute(
            "ALTER TABLE vault_audit ADD CONSTRAINT test_no_versions CHECK (operation <> 'add version')",
            purpose: "test edit")
        #expect(throws: PostgresError.self) { _ = try vault.admin.addVersion(to: "t1") }
        #expect(try vault.admin.versions(of: "t1").map(\.number) == [1])
    }

    // MARK: - Sessions

    @Test func twoVaultSessionsAddingVersionsAtOnceGetDistinctNumbers() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        let sessions = [vault.admin, try vault.open(), try vault.open()]
        let numbers = Locked<[Int]>([])
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: sessions.count) { index in
            for _ in 0..<6 {
                do {
                    let number = try sessions[index].addVersion(to: "t1").number
                    numbers.update { $0.append(number) }
                } catch {
                    failures.update { $0.append(String(describing: error)) }
                }
            }
        }
        #expect(failures.value.isEmpty, "\(failures.value)")
        #expect(numbers.value.sorted() == Array(2...19))
        #expect(try vault.admin.versions(of: "t1").map(\.number) == Array(1...19))
    }

    @Test func aReadOnlyOpenChangesNoRowEvenWhenEveryWriteIsTried() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        _ = try vault.admin.addVersion(to: "t1")
        let before = try VaultBackend.postgresVaultDump(vault.connectionString)
        let readOnly = try vault.open(readOnly: true)
        #expect(readOnly.isReadOnly)
        _ = try readOnly.dataKey(secret: "t1", version: 1)
        _ = try readOnly.secrets()
        let writes: [() throws -> Void] = [
            { _ = try readOnly.addVersion(to: "t1") }, { try readOnly.disableVersion(secret: "t1", version: 1) },
            { try readOnly.setPolicy(for: "x", permissions: [.get]) }, { try readOnly.deleteSecret("t1") },
            { try readOnly.bindStore("s", heldTokens: true, replacing: nil) },
        ]
        for write in writes {
            #expect(throws: VaultError.self) { try write() }
        }
        #expect(try VaultBackend.postgresVaultDump(vault.connectionString) == before)
    }

    @Test func aLostSessionIsReportedAndTheNextCallConnectsAgain() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        let key = try vault.admin.dataKey(secret: "t1", version: 1)
        try vault.sql.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            purpose: "test: end the vault's session")
        let error = #expect(throws: PostgresError.self) { _ = try vault.admin.dataKey(secret: "t1", version: 1) }
        #expect(error?.kind == .busy)
        #expect(try vault.admin.dataKey(secret: "t1", version: 1) == key)
    }

    @Test func aServerOffThisHostIsReachedWithVerifyFullInEverySessionUnlessTheCallerAcceptsLess() throws {
        let vault = try Fixture()
        // libpq tries the hosts in turn: the socket answers, but the string names a host off this machine too.
        let mixed =
            vault.connectionString.replacingOccurrences(of: "host=", with: "host=db.example.invalid,")
            + " sslmode=disable"
        #expect(mixed.contains("host=db.example.invalid,/"))
        let verified = try PostgresVault.open(
            connectionString: mixed, location: "postgres:test", masterKey: vault.masterKey, principal: "admin")
        #expect(try verified.sessionOption("sslmode") == "verify-full")
        // A session opened again after the first was lost keeps the rule.
        try vault.sql.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
            purpose: "test: end the vault's sessions")
        #expect(throws: PostgresError.self) { _ = try verified.secrets() }
        #expect(try verified.sessionOption("sslmode") == "verify-full")
        let unverified = try PostgresVault.open(
            connectionString: mixed, location: "postgres:test", masterKey: vault.masterKey, principal: "admin",
            tls: .unverified)
        #expect(try unverified.sessionOption("sslmode") == "disable")
    }

    // MARK: - Where the vault lives

    @Test func initializeRefusesASchemaThatHoldsAVaultAndOpenRefusesOneWithout() throws {
        let vault = try Fixture()
        let error = #expect(throws: VaultError.self) {
            _ = try PostgresVault.initialize(
                connectionString: vault.connectionString, location: "postgres:env:TEST_VAULT_URL",
                masterKey: vault.masterKey, principal: "admin")
        }
        guard case .tablesExist(_, let tables) = error else {
            Issue.record("\(String(describing: error))")
            return
        }
        #expect(tables.contains("vault_meta") && tables.contains("vault_secrets"))
        let server = try PostgresTestServer.shared()
        let empty = server.connectionString(database: try server.createDatabase())
        #expect(throws: VaultError.notAVault(path: "postgres:env:EMPTY")) {
            _ = try PostgresVault.open(
                connectionString: empty, location: "postgres:env:EMPTY", masterKey: vault.masterKey, principal: "admin")
        }
        #expect(throws: VaultError.invalidRetention(3)) {
            _ = try PostgresVault.initialize(
                connectionString: empty, location: "postgres:env:EMPTY", masterKey: vault.masterKey, principal: "admin",
                retentionDays: 3)
        }
    }

    @Test func aVaultSharesADatabaseWithAStoreWithoutClashing() throws {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        let store = try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test-store")
        let vault = try PostgresVault.initialize(
            connectionString: connectionString, location: "postgres:test-vault", masterKey: try MasterKey.generate(),
            principal: "admin")
        try vault.bindStore(store.identity.id, heldTokens: false, replacing: nil)
        _ = try vault.createSecret("t1")
        #expect(try vault.storeBinding()?.storeID == store.identity.id)
        _ = try PostgresTokenStore(connectionString: connectionString, location: "postgres:test-store")
    }

    @Test func theVaultRunsThroughARoleOfItsOwnThatTheStoresRoleCannotRead() throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        let suffix = String(database.suffix(12))
        let vaultRole = "tk_vault_\(suffix)", storeRole = "tk_store_\(suffix)"
        let superuser = try PostgresConnection(
            connectionString: server.connectionString(database: database), location: "test", readOnly: false)
        let script = try String(
            contentsOfFile: TestEnvironment.packageRoot + "/scripts/postgres/vault-role.sql", encoding: .utf8)
        try superuser.execute(
            script.replacingOccurrences(of: "tokenkeeper_vault", with: vaultRole), purpose: "test: vault-role.sql")
        try superuser.execute(
            "CREATE ROLE \(storeRole) LOGIN; GRANT CREATE ON SCHEMA public TO \(storeRole)", purpose: "test: store role"
        )
        let asStore = "host=\(server.folder) dbname=\(database) user=\(storeRole)"
        let asVault = "host=\(server.folder) dbname=\(database) user=\(vaultRole)"
        let store = try PostgresTokenStore.create(connectionString: asStore, location: "postgres:test-store")
        let vault = try PostgresVault.initialize(
            connectionString: asVault, location: "postgres:test-vault", masterKey: try MasterKey.generate(),
            principal: "admin")
        try vault.bindStore(store.identity.id, heldTokens: false, replacing: nil)
        _ = try vault.createSecret("t1")
        _ = try vault.addVersion(to: "t1")
        #expect(try vault.latestDataKey(secret: "t1").version == 2)
        let tables = try superuser.query(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'vault_versions'", purpose: "test")
        #expect(tables.count == 1 && tables.text(0, 0) == "vault")
        // Neither role reads the other's tables.
        let storeSession = try PostgresConnection(connectionString: asStore, location: "test", readOnly: false)
        for query in ["SELECT count(*) FROM vault.vault_versions", "SELECT count(*) FROM vault.vault_audit"] {
            let error = #expect(throws: PostgresError.self) { try storeSession.query(query, purpose: "test") }
            #expect(error?.sqlState == "42501", "\(query)")
        }
        let vaultSession = try PostgresConnection(connectionString: asVault, location: "test", readOnly: false)
        for query in ["SELECT count(*) FROM public.tokens", "SELECT count(*) FROM public.store_identity"] {
            let error = #expect(throws: PostgresError.self) { try vaultSession.query(query, purpose: "test") }
            #expect(error?.sqlState == "42501", "\(query)")
        }
    }

    // MARK: - The connection string is a secret

    @Test func noErrorShowsTheConnectionString() throws {
        let vault = try Fixture()
        _ = try vault.admin.createSecret("t1")
        let server = try PostgresTestServer.shared()
        let database = try #require(PostgresConnection.options(of: vault.connectionString)["dbname"])
        // The test server trusts its socket, so a planted password is sent and ignored.
        let planted = vault.connectionString + " password=SECRETPASSWORD application_name=SECRETAPP"
        let location = "postgres:env:TEST_VAULT_URL"
        var errors: [any Error] = []
        func collect(_ body: () throws -> Void) {
            do { try body() } catch { errors.append(error) }
        }
        func open(_ connectionString: String = planted, key: MasterKey? = nil, as principal: String = "admin")
            throws -> PostgresVault
        {
            try PostgresVault.open(
                connectionString: connectionString, location: location, masterKey: key ?? vault.masterKey,
                principal: principal)
        }
        collect { _ = try open(key: try MasterKey.generate()) }
        collect { _ = try open(as: "nobody").secrets() }
        collect {
            _ = try PostgresVault.initialize(
                connectionString: planted, location: location, masterKey: vault.masterKey, principal: "admin")
        }
        collect { _ = try open("host=\(server.folder) dbname=SECRETDB user=SECRETUSER password=SECRETPASSWORD") }
        collect { _ = try open("host=/tmp/no-such-SECRETHOST dbname=\(database) password=SECRETPASSWORD") }
        collect {
            let opened = try open()
            try vault.sql.execute("ALTER TABLE vault_secrets RENAME TO vault_secrets_gone", purpose: "test edit")
            defer { try? vault.sql.execute("ALTER TABLE vault_secrets_gone RENAME TO vault_secrets", purpose: "test") }
            _ = try opened.secrets()
        }
        #expect(errors.count == 6)
        for error in errors {
            for text in [String(describing: error), String(reflecting: error), error.localizedDescription] {
                for secret in [
                    "SECRETPASSWORD", "SECRETDB", "SECRETUSER", "SECRETHOST", "SECRETAPP", database, planted,
                ] {
                    #expect(!text.contains(secret), "\(text)")
                }
            }
        }
    }
}

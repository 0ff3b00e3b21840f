import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// Where a crash test keeps its state: the embedded default (a vault folder and an SQLite store) or the
/// server case (vault and store both on PostgreSQL, in one database of the test server).
enum CrashBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }
}

/// A crash test's job world on either backend: the vault (created `keyAge` ago by principal `pipeline`,
/// so a rotation is due), the store it serves, the master key in the environment, and a folder for the
/// spec. Copies are cheap (`cp -a` of the folder, `CREATE DATABASE ... TEMPLATE` on the server), so each
/// attempt of a crash test starts from the same state.
struct CrashWorld: Sendable {
    let backend: CrashBackend
    let folder: String
    let masterKey: MasterKey
    /// When the vault (and so every tenant's first key version) was created.
    let origin: Date
    /// The database holding vault and store on PostgreSQL; nil on SQLite.
    let database: String?

    var vaultPath: String { folder + "/state/vault" }
    var storePath: String { folder + "/state/tokens.db" }
    /// The connection string of `database` (a test secret: the test server trusts its socket).
    var connectionString: String {
        get throws { try PostgresTestServer.shared().connectionString(database: database ?? "") }
    }
    /// What the commands need: the master key, and on PostgreSQL the state's connection string.
    var environment: [String: String] {
        get throws {
            var environment = ["TOKENKEEPER_MASTER_KEY": masterKey.base64]
            if database != nil { environment["TOKENKEEPER_STATE_URL"] = try connectionString }
            return environment
        }
    }

    /// The spec's header naming this world's vault and store.
    var header: String {
        switch backend {
        case .sqlite: JobFixture.header
        case .postgres:
            """
            version: 1
            name: test-job
            principal: pipeline
            vault:
              postgres: env:TOKENKEEPER_STATE_URL
              master_key: env:TOKENKEEPER_MASTER_KEY
            store:
              postgres: env:TOKENKEEPER_STATE_URL

            """
        }
    }

    private static let storeLocation = StoreLocation.postgres(
        connection: .environment("TOKENKEEPER_STATE_URL"), tls: .verifiedOffHost)

    /// Creates the vault and the store it serves, as `vault init` and `state init` do.
    init(_ backend: CrashBackend, folder: String, keyAge: TimeInterval = 40 * 86_400) throws {
        self.backend = backend
        self.folder = folder
        masterKey = try MasterKey.generate()
        let origin = Date().addingTimeInterval(-keyAge)
        self.origin = origin
        try PrivateFiles.createPrivateDirectory(folder)
        try PrivateFiles.createPrivateDirectory(folder + "/state")
        switch backend {
        case .sqlite:
            database = nil
            let vault = try FileVault.initialize(
                at: folder + "/state/vault", masterKey: masterKey, principal: "pipeline", clock: { origin })
            _ = try StateBinding.openStore(
                at: folder + "/state/tokens.db", vault: vault, source: .create(replacing: false))
        case .postgres:
            let server = try PostgresTestServer.shared()
            database = try server.createDatabase()
            let connectionString = server.connectionString(database: database!)
            let vault = try PostgresVault.initialize(
                connectionString: connectionString, location: "postgres:env:TOKENKEEPER_STATE_URL",
                masterKey: masterKey, principal: "pipeline", clock: { origin })
            _ = try StateBinding.openStore(
                Self.storeLocation, vault: vault, source: .create(replacing: false),
                environment: ["TOKENKEEPER_STATE_URL": connectionString])
        }
    }

    private init(copyOf original: CrashWorld, folder: String, database: String?) {
        backend = original.backend
        self.folder = folder
        masterKey = original.masterKey
        origin = original.origin
        self.database = database
    }

    /// A copy of this world's state in `folder` (and a database of its own): same master key and dates. No
    /// session may be open on this world's database meanwhile (PostgreSQL copies only an idle template).
    func copy(to folder: String) throws -> CrashWorld {
        let result = try runProcess("/bin/cp", ["-a", self.folder, folder])
        guard result.status == 0 else { throw GeneralError(item: folder, problem: result.stderr, remedy: "") }
        guard let database else { return CrashWorld(copyOf: self, folder: folder, database: nil) }
        let copy = "c_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        try Self.admin().execute("CREATE DATABASE \(copy) TEMPLATE \(database)", purpose: "copy a test database")
        return CrashWorld(copyOf: self, folder: folder, database: copy)
    }

    /// Removes the folder and the database (ending any session still on it).
    func remove() {
        try? FileManager.default.removeItem(atPath: folder)
        if let database { try? Self.admin().execute("DROP DATABASE \(database) WITH (FORCE)", purpose: "drop") }
    }

    private static func admin() throws -> PostgresConnection {
        try PostgresConnection(
            connectionString: try PostgresTestServer.shared().connectionString(database: "postgres"),
            location: "test server", readOnly: false, statementTimeout: 60)
    }

    /// The vault, acting at `origin` (so new secrets are as old as the vault).
    func vault() throws -> any KeyVault {
        let when = origin
        switch backend {
        case .sqlite:
            return try FileVault.open(at: vaultPath, masterKey: masterKey, principal: "pipeline", clock: { when })
        case .postgres:
            return try PostgresVault.open(
                connectionString: try connectionString, location: "postgres:test-vault", masterKey: masterKey,
                principal: "pipeline", clock: { when })
        }
    }

    /// The store, opened directly (no binding check).
    func store() throws -> any TokenStore {
        switch backend {
        case .sqlite: try SQLiteTokenStore(path: storePath)
        case .postgres: try PostgresTokenStore(connectionString: try connectionString, location: "postgres:test-store")
        }
    }

    /// A custodian over the vault and the store.
    func custodian() throws -> TokenCustodian { TokenCustodian(vault: try vault(), store: try store()) }

    /// Stores `count` tokens per tenant (users `u0`, `u1`, ...), each ``JobFixture/token(for:)``.
    func seed(tenants: [String], usersPerTenant count: Int) throws {
        let custodian = try custodian()
        for tenant in tenants {
            for index in 0..<count {
                let key = TokenKey(tenant: tenant, user: "u\(index)", provider: "entra")
                try custodian.put(key, token: JobFixture.token(for: key), issuedAt: origin, expiresAt: nil)
            }
        }
    }

    /// Stores `count` tokens per tenant in the old format (before envelope encryption), as
    /// ``JobFixture/seedInOldFormat(tenants:usersPerTenant:provider:)`` does.
    func seedInOldFormat(tenants: [String], usersPerTenant count: Int) throws {
        let custodian = try custodian()
        try custodian.recordThatTheStoreHoldsTokens()
        var rows: [StoredToken] = []
        for tenant in tenants {
            for index in 0..<count {
                let key = TokenKey(tenant: tenant, user: "u\(index)", provider: "entra")
                let (version, sealed) = try custodian.sealInOldFormat(
                    JobFixture.token(for: key), for: key, secret: tenant)
                rows.append(
                    StoredToken(
                        key: key, secretName: tenant, keyVersion: version, sealedToken: sealed, issuedAt: origin))
            }
        }
        try custodian.store.insertBatch(rows)
    }

    /// Every stored token opened and checked against ``JobFixture/token(for:)``; returns how many rows hold
    /// one. Throws on the first row that does not open or holds another token (I1).
    func verifyEveryToken() throws -> Int {
        let custodian = try custodian()
        var rows: [StoredToken] = []
        try custodian.store.forEach {
            rows.append($0)
            return true
        }
        var opened = 0
        for row in rows where row.sealedToken != nil {
            guard try custodian.open(row).revealed == JobFixture.token(for: row.key).revealed else {
                throw GeneralError(item: row.key.description, problem: "holds another token", remedy: "")
            }
            opened += 1
        }
        return opened
    }

    /// Waits (at most 10 s) until a killed job's statements have finished on the server. A client killed
    /// with SIGKILL does not stop a statement the server is already running: an autocommitted lease taken
    /// just before the kill can still commit after the process is gone, so a snapshot taken at once would
    /// miss it. On SQLite the write is in the dead process or nowhere: nothing to wait for.
    func settleAfterKill() throws {
        guard database != nil else { return }
        let session = try PostgresConnection(connectionString: try connectionString, location: "test", readOnly: true)
        // A query the process wrote just before it died may still be in the socket, not yet read by the server.
        usleep(100_000)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let busy = try session.query(
                """
                SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                  AND backend_type = 'client backend' AND state <> 'idle'
                """, purpose: "test: wait for a killed job's statements"
            ).int(0, 0)
            if busy == 0 { return }
            usleep(20_000)
        }
        Issue.record("a killed job's statements were still running on the server after 10 s")
    }

    /// The rows of `tenant`.
    func rows(tenant: String) throws -> [StoredToken] {
        var rows: [StoredToken] = []
        try store().forEach(tenant: tenant) {
            rows.append($0)
            return true
        }
        return rows
    }

    /// The per-version counts the store keeps (above zero) and the same counts recomputed from the rows.
    func keptAndRecountedKeyVersionRows() throws -> (kept: [String: [Int: Int]], recounted: [String: [Int: Int]]) {
        switch backend {
        case .sqlite:
            let store = try SQLiteTokenStore(path: storePath)
            return (try store.keptKeyVersionRows(), try store.recountedKeyVersionRows())
        case .postgres:
            let session = try PostgresConnection(
                connectionString: try connectionString, location: "test", readOnly: true)
            func counts(_ sql: String) throws -> [String: [Int: Int]] {
                let rows = try session.query(sql, purpose: "test: counts")
                var counts: [String: [Int: Int]] = [:]
                for row in 0..<rows.count {
                    counts[rows.text(row, 0), default: [:]][Int(rows.int(row, 1))] = Int(rows.int(row, 2))
                }
                return counts
            }
            let kept = try counts(
                "SELECT tenant, key_version::int8, rows::int8 FROM key_version_rows WHERE rows != 0")
            let recounted = try counts(
                """
                SELECT t.tenant, coalesce(k.key_version, t.key_version)::int8 AS version, count(*)::int8
                FROM tokens t LEFT JOIN token_keys k ON k.token_id = t.id
                WHERE t.sealed_token IS NOT NULL GROUP BY t.tenant, version
                """)
            return (kept, recounted)
        }
    }
}

import Crypto
import Foundation
import PostgresClient
import Support

/// A ``KeyVault`` in PostgreSQL tables: the same secrets, versions, policies, soft delete and purge,
/// store binding and audit log as ``FileVault``, for vaults that several hosts share (README "When one
/// host is not enough").
///
/// - Tables (``PostgresVaultSchema``): `vault_meta`, `vault_secrets`, `vault_versions`, `vault_policies`,
///   `vault_audit`, `vault_migrations`, in the first schema of the connection's `search_path`, so they may
///   live in a schema or database of their own, reached with a role of their own
///   (scripts/postgres/vault-role.sql) that cannot read the store's tables (nor the store's role the vault's).
/// - Data keys are wrapped under the master key exactly as the file vault wraps them (AES-256-GCM, bound
///   to secret and version), and every row carries a MAC under a key derived from the master key
///   (``PostgresVaultRowMAC``): a row edited in SQL is refused naming the row; a wrong master key is
///   named as such (`vault_meta` records the master key's public id).
/// - Concurrency: every change is one transaction; a secret's row is locked (`FOR UPDATE`) while its
///   versions change, so two hosts adding versions at once get distinct numbers. Each change first checks,
///   under a lock a rekey waits for, that the vault is still under this object's master key
///   (``rekey(to:)`` moves every row to a new key in one transaction).
/// - Audit: every entry is a row; a change's entry is committed in the change's transaction, a denial's
///   and a read's right after the call (each a commit, durable when it returns). A read-only vault writes
///   nothing, not even the audit.
/// - The connection string is a secret: kept only to reconnect after a lost connection, never in
///   ``location``, an error or a log (``PostgresError`` is scrubbed of its values).
///
/// Thread safety: one session (connection) per vault object, used by one call at a time (a lock);
/// another process or vault object has a session of its own.
public final class PostgresVault: KeyVault, @unchecked Sendable {
    /// How messages name the vault, for example `postgres:env:TOKENKEEPER_VAULT_URL`.
    public let location: String
    public let principal: String
    /// Whether the vault was opened read-only (dry run): nothing is written, not even the audit log.
    public let isReadOnly: Bool
    /// Days a soft-deleted secret is kept.
    public let retentionDays: Int

    let masterKey: MasterKey
    let keyID: String
    let rowMAC: PostgresVaultRowMAC
    let clock: @Sendable () -> Date
    /// The connection string (a secret): only to open the session again.
    private let connectionString: String
    private let tls: PostgresTLS
    /// Guards `session`; held for the whole of each call (recursive: `purgeOverdue` purges through `purgeSecret`).
    private let lock = NSRecursiveLock()
    /// The session, nil after it was lost (the next call connects again).
    private var session: PostgresConnection?

    /// The format of the vault tables' content this build writes (in `vault_meta`).
    static let format = 1

    private init(
        session: PostgresConnection, connectionString: String, tls: PostgresTLS, principal: String,
        masterKey: MasterKey, retentionDays: Int, clock: @escaping @Sendable () -> Date
    ) throws {
        self.session = session
        self.connectionString = connectionString
        self.tls = tls
        self.location = session.location
        self.isReadOnly = session.isReadOnly
        self.principal = principal
        self.masterKey = masterKey
        self.keyID = try masterKey.identifier
        self.rowMAC = try PostgresVaultRowMAC(masterKey: masterKey)
        self.retentionDays = retentionDays
        self.clock = clock
    }

    // MARK: - Creating and opening

    /// Creates the vault's tables in the empty database (schema) `connectionString` reaches and returns the
    /// vault; `principal` gets every permission. Refuses a schema that holds any vault table already, as
    /// ``FileVault/initialize(at:masterKey:principal:retentionDays:clock:)`` refuses a folder that is not empty.
    /// - Parameters:
    ///   - connectionString: a libpq keyword/value string or URI: a secret, never printed.
    ///   - location: how messages name the vault, for example `postgres:env:TOKENKEEPER_VAULT_URL`.
    ///   - tls: ``PostgresTLS/verifiedOffHost`` unless the spec accepts less in so many words.
    /// - throws: ``VaultError/invalidRetention(_:)``, ``VaultError/tablesExist(location:tables:)``, ``PostgresError``.
    public static func initialize(
        connectionString: String, location: String, masterKey: MasterKey, principal: String,
        retentionDays: Int = 90, tls: PostgresTLS = .verifiedOffHost, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> PostgresVault {
        guard (7...90).contains(retentionDays) else { throw VaultError.invalidRetention(retentionDays) }
        let session = try PostgresConnection(
            connectionString: connectionString, location: location, readOnly: false, tls: tls)
        let vault = try PostgresVault(
            session: session, connectionString: connectionString, tls: tls, principal: principal,
            masterKey: masterKey, retentionDays: retentionDays, clock: clock)
        try session.transaction(purpose: "initialize the vault") {
            try PostgresVaultSchema.create(session)
            let meta = VaultMetaRow(
                format: format, createdAt: vault.now(), retentionDays: retentionDays, masterKeyID: vault.keyID,
                store: nil)
            try vault.writeMeta(meta, in: session, inserting: true)
            try vault.writePolicy(for: principal, permissions: Set(VaultPermission.allCases), in: session)
            try vault.insertAudit("init", secret: nil, version: nil, outcome: "ok", in: session)
        }
        return vault
    }

    /// Opens the vault in the database (schema) `connectionString` reaches, as `principal`, migrating its
    /// tables unless `readOnly`.
    /// - Parameter readOnly: for dry runs: every call that would write is refused and nothing, not even the
    ///   audit log, is written (the session itself is read-only).
    /// - throws: ``VaultError/notAVault(path:)`` without vault tables, ``VaultError/wrongMasterKey(vault:)``
    ///   for another key, ``VaultError/corrupt(file:detail:)`` for an edited `vault_meta` or policy row,
    ///   ``VaultError/schemaMismatch(location:found:known:)``, ``PostgresError``.
    public static func open(
        connectionString: String, location: String, masterKey: MasterKey, principal: String,
        readOnly: Bool = false, tls: PostgresTLS = .verifiedOffHost, clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> PostgresVault {
        let session = try PostgresConnection(
            connectionString: connectionString, location: location, readOnly: readOnly, tls: tls)
        try PostgresVaultSchema.migrate(session)
        let rows = try session.query(
            "SELECT \(VaultMetaRow.columns), mac FROM vault_meta WHERE singleton = 1", purpose: "read the vault")
        guard rows.count == 1 else { throw VaultError.notAVault(path: location) }
        let meta = VaultMetaRow(rows, 0)
        guard meta.masterKeyID == (try masterKey.identifier) else { throw VaultError.wrongMasterKey(vault: location) }
        let vault = try PostgresVault(
            session: session, connectionString: connectionString, tls: tls, principal: principal,
            masterKey: masterKey, retentionDays: meta.retentionDays, clock: clock)
        try vault.checkMeta(meta, mac: rows.bytes(0, 7))
        // A vault `state copy` moved elsewhere never opens again: its keys would redeem a stale copy.
        if let mark = try vault.loadStateMark(in: session), mark.kind == .moved { throw mark.refusal(at: location) }
        // The policies guard every call: an edited policy row stops every command here.
        _ = try vault.loadPolicies(in: session)
        return vault
    }

    // MARK: - The session

    /// Runs `body` with the session, connecting again first if it was lost. A transient failure (the
    /// connection lost or ended by the server, a timeout) drops the session, so the next call starts a new one.
    func withSession<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        let current: PostgresConnection
        if let session {
            current = session
        } else {
            current = try PostgresConnection(
                connectionString: connectionString, location: location, readOnly: isReadOnly, tls: tls)
            session = current
        }
        do {
            return try body(current)
        } catch let error as PostgresError where error.kind == .busy {
            session = nil
            throw error
        } catch let error as VaultError {
            // A row that does not match its MAC because another session rekeyed the vault: say so.
            switch error {
            case .corrupt, .corruptSecret:
                let rows = try? current.query(
                    "SELECT master_key_id FROM vault_meta WHERE singleton = 1", purpose: "check the master key")
                if let rows, rows.count == 1, rows.text(0, 0) != keyID {
                    throw VaultError.wrongMasterKey(vault: location)
                }
                throw error
            default: throw error
            }
        }
    }

    /// The value libpq uses for `keyword` on the current session (for example `sslmode`, which the TLS rule
    /// sets), connecting again first if the session was lost.
    func sessionOption(_ keyword: String) throws -> String? {
        try withSession { $0.effectiveOption(keyword) }
    }

    /// The clock's time, to the millisecond the tables keep (so a value returned equals the one read back).
    func now() -> Date {
        Date(timeIntervalSince1970: TimeInterval(millis(clock())) / 1000)
    }
}

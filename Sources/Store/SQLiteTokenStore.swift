import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// The SQLite token store: one row per (tenant, user, provider) holding a sealed refresh token.
///
/// It never encrypts or decrypts: it keeps the sealed bytes ``TokenCustodian`` gives it. Queries
/// that may cover many rows stream through a callback, one row at a time, so memory does not grow
/// with the store. Not `Sendable` (it owns one connection); open one store per thread or task.

public final class SQLiteTokenStore: TokenStore {
    /// True: SQLite has one write lock for the whole database.
    public var writersWaitForEachOther: Bool { true }

    /// The connection; `package` so that tests and benchmarks can inspect query plans.
    package let connection: SQLiteConnection

    /// The columns every row query selects from ``joined``, in ``StoredToken`` order: the key version of an
    /// envelope row comes from its data key's row, that of an old-format row from the token's.
    static let columns = """
        t.id, t.tenant, t.user_id, t.provider, t.secret_name, coalesce(k.key_version, t.key_version), t.sealed_token, \
        t.issued_at, t.refreshed_at, t.expires_at, t.status, t.failure_count, t.last_error_code, t.lease_owner, \
        t.lease_until, t.updated_at, k.wrapped_key
        """

    /// The tokens with their wrapped data keys (absent for rows in the old format): what ``columns`` reads.
    static let joined = "tokens t LEFT JOIN token_keys k ON k.token_id = t.id"

    /// The store's identity, written once when it was created (schema migration 3).
    public let identity: StoreIdentity

    /// Opens the existing store at `path` and migrates its schema unless `readOnly`. Never creates a
    /// store: a missing or empty file is an error (``create(at:busyTimeout:)`` makes new stores). A
    /// read-only store is never written: a dry run leaves it byte-identical (I5).
    /// - throws: ``StoreError`` (missing, empty, read-only folder, schema), ``InsecurePermissionsError``,
    ///   ``ForeignOwnerError``, ``WritableStateFolderError``, ``SQLiteError``.
    public convenience init(path: String, readOnly: Bool = false, busyTimeout: TimeInterval = 5) throws {
        try self.init(
            connection: SQLiteConnection(path: path, readOnly: readOnly, busyTimeout: busyTimeout), creating: false)
    }

    private init(connection: SQLiteConnection, creating: Bool) throws {
        self.connection = connection
        commitSync = WALGroupSync.forStore(path: connection.path)
        try StoreSchema.migrate(connection, creating: creating)
        identity = try StoreIdentity.read(connection)
        // A store `state copy` moved elsewhere never opens again: its tokens would be a stale copy.
        if let mark = try stateMark(), mark.kind == .moved { throw mark.refusal(at: connection.path) }
    }

    /// Creates a new, empty store at `path` (mode 0600; its folder is created 0700 when missing) and opens
    /// it. The store is made under a temporary name and linked into place, which fails when anything is
    /// at `path` already: an existing store, or an empty file, is never replaced.
    /// - throws: ``StoreError/exists(path:)``, ``StoreError/readOnlyFolder(path:folder:)``, folder and file errors.
    public static func create(at path: String, busyTimeout: TimeInterval = 5) throws -> SQLiteTokenStore {
        let folder = SQLiteConnection.folder(of: path)
        if !PrivateFiles.exists(folder) { try PrivateFiles.createPrivateDirectory(folder) }
        try StateOwnership.requireSafeFolder(folder)
        guard !StateOwnership.isReadOnlyFolder(folder) else {
            throw StoreError.readOnlyFolder(path: path, folder: folder)
        }
        var info = stat()
        guard lstat(path, &info) != 0 else { throw StoreError.exists(path: path) }
        guard let resolved = realpath(folder, nil) else {
            throw FileSystemError(path: folder, operation: "resolve folder", code: errno)
        }
        let real = String(cString: resolved)
        free(resolved)
        let temporary =
            real + "/.\((path as NSString).lastPathComponent).new-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, PrivateFiles.fileMode)
        guard fd >= 0 else { throw FileSystemError(path: temporary, operation: "create store", code: errno) }
        close(fd)
        defer { for suffix in ["", "-wal", "-shm"] { unlink(temporary + suffix) } }
        do {
            // Closing the last connection checkpoints the WAL into the file and removes it.
            _ = try SQLiteTokenStore(
                connection: SQLiteConnection(path: temporary, opening: .newFile, busyTimeout: busyTimeout),
                creating: true)
        }
        guard link(temporary, real + "/" + (path as NSString).lastPathComponent) == 0 else {
            let code = errno
            if code == EEXIST { throw StoreError.exists(path: path) }
            throw FileSystemError(path: path, operation: "create store", code: code)
        }
        try PrivateFiles.syncDirectory(folder)
        return try SQLiteTokenStore(path: path, busyTimeout: busyTimeout)
    }

    /// The store file.
    public var path: String { connection.path }

    /// The store file: its location for messages.
    public var location: String { connection.path }

    /// Whether this connection is read-only.
    public var isReadOnly: Bool { connection.isReadOnly }

    /// Another connection on the same file, read-only if this one is.
    public func openSession() throws -> any TokenStore {
        try SQLiteTokenStore(path: path, readOnly: isReadOnly)
    }

    /// Syncs this store's write-ahead log for every connection of this process (see ``syncCommits()``).
    package let commitSync: WALGroupSync

    /// Returns once every transaction this process has committed to the store is durable against a power
    /// cut, not only against a crash of the process (the store commits with `synchronous=NORMAL`). Callers
    /// that wait at once share one sync.
    /// - throws: ``FileSystemError`` when the sync fails.
    public func syncCommits() async throws {
        try await commitSync.sync()
    }

    // MARK: - Single rows

    /// Inserts the row, or replaces every field of the existing row with the same key (keeping its id).
    /// - Returns: whether the row was new.
    @discardableResult
    public func put(_ token: StoredToken) throws -> Bool {
        try connection.writeTransaction {
            try requireUnmarked()
            return try upsert(token)
        }
    }

    /// Puts many rows in one transaction, as ``put(_:)`` does each: all of them or none. The per-version
    /// counts are written once per tenant and version for the whole batch.
    /// - Returns: per row, whether it was new.
    public func putBatch(_ tokens: [StoredToken]) throws -> [Bool] {
        guard !tokens.isEmpty else { return [] }
        return try connection.writeTransaction {
            try requireUnmarked()
            var moved = KeyVersionRowChanges()
            let isNew = try tokens.map { try upsert($0, counting: &moved) }
            try apply(moved)
            return isNew
        }
    }

    /// One row's insert-or-replace and the count it moves, inside the caller's transaction.
    func upsert(_ token: StoredToken) throws -> Bool {
        var moved = KeyVersionRowChanges()
        let isNew = try upsert(token, counting: &moved)
        try apply(moved)
        return isNew
    }

    /// One row's insert-or-replace inside the caller's transaction, adding the count it moves to `moved`
    /// (the caller applies it). Returns whether the row was new.
    ///
    /// An INSERT that does nothing on the unique key, then, only when the row exists, an UPDATE by that
    /// key; never one `INSERT ... ON CONFLICT DO UPDATE ... RETURNING`: SQLite runs such a statement
    /// (RETURNING works as a trigger, and the upsert's update may abort) under a statement journal, a copy
    /// of every page it is about to change (four 16 KiB pages a row here) written to a temporary file,
    /// which made that copy most of an import's writes. A new row (an import's usual case) costs one
    /// lookup of the key, the insert's own.
    func upsert(_ token: StoredToken, counting moved: inout KeyVersionRowChanges) throws -> Bool {
        let insert = try connection.cached(
            """
            INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
                expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
            ON CONFLICT (tenant, user_id, provider) DO NOTHING
            """)
        bindAll(insert, token)
        try insert.run()
        let to = token.sealedToken == nil ? nil : token.keyVersion
        if insert.changes > 0 {
            try writeDataKey(rowID: connection.lastInsertRowID, of: token, isNew: true)
            moved.move(tenant: token.key.tenant, from: nil, to: to)
            return true
        }
        // The row exists (read in this write transaction, so it still does): what it held, then replaced.
        let existing = try sealedState(of: token.key)
        guard let id = existing.id else { throw StoreError.notFound(token.key) }
        let update = try connection.cached(
            """
            UPDATE tokens SET secret_name = ?4, key_version = ?5, sealed_token = ?6, issued_at = ?7, refreshed_at = ?8,
                expires_at = ?9, status = ?10, failure_count = ?11, last_error_code = ?12, lease_owner = ?13,
                lease_until = ?14, updated_at = ?15
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3
            """)
        bindAll(update, token)
        try update.run()
        try writeDataKey(rowID: id, of: token)
        moved.move(tenant: token.key.tenant, from: existing.version, to: to)
        return false
    }

    /// The row for `key`, or nil.
    public func get(_ key: TokenKey) throws -> StoredToken? {
        let statement = try connection.cached(
            "SELECT \(Self.columns) FROM \(Self.joined) WHERE t.tenant = ? AND t.user_id = ? AND t.provider = ?")
        defer { statement.reset() }
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        return try statement.step() ? Self.row(statement) : nil
    }

    /// Deletes the row for `key`. Returns whether there was one.
    @discardableResult
    public func delete(_ key: TokenKey) throws -> Bool {
        try connection.writeTransaction {
            try requireUnmarked()
            let version = try sealedKeyVersion(of: key)
            try deleteDataKey(of: key)
            guard try changing("DELETE FROM tokens WHERE tenant = ? AND user_id = ? AND provider = ?", key) else {
                return false
            }
            try moveKeyVersionRow(tenant: key.tenant, from: version, to: nil)
            return true
        }
    }

    /// Drops the refresh token but keeps the record, with status `revoked`. Returns whether a token was dropped.
    @discardableResult
    public func dropRefreshToken(_ key: TokenKey, now: Date) throws -> Bool {
        let statement = try connection.cached(
            """
            UPDATE tokens SET sealed_token = NULL, status = 'revoked', lease_owner = NULL, lease_until = NULL, updated_at = ?4,
                key_version = coalesce((SELECT key_version FROM token_keys WHERE token_id = tokens.id), key_version)
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND (sealed_token IS NOT NULL OR status != 'revoked')
            """)
        statement.bind(4, now)
        return try connection.writeTransaction {
            try requireUnmarked()
            let version = try sealedKeyVersion(of: key)
            guard try changing(statement, key) else { return false }
            try deleteDataKey(of: key)
            try moveKeyVersionRow(tenant: key.tenant, from: version, to: nil)
            return true
        }
    }

    /// Marks a row `needs_reauth` with the provider's error code (the token is dead; the user must sign in again).
    @discardableResult
    public func markNeedsReauth(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool {
        let statement = try connection.cached(
            """
            UPDATE tokens SET status = 'needs_reauth', last_error_code = ?4, failure_count = failure_count + 1,
                lease_owner = NULL, lease_until = NULL, updated_at = ?5
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3
            """)
        statement.bind(4, errorCode)
        statement.bind(5, now)
        return try changing(statement, key)
    }

    /// Marks a row `needs_reauth` only while it still holds `deadToken`, the sealed token that was found
    /// dead (or in doubt): a late answer about an old token never condemns a newer one another holder
    /// committed meanwhile. Returns whether the row changed.
    @discardableResult
    public func markNeedsReauth(_ key: TokenKey, errorCode: String?, now: Date, ifStillHolding deadToken: [UInt8])
        throws
        -> Bool
    {
        let statement = try connection.cached(
            """
            UPDATE tokens SET status = 'needs_reauth', last_error_code = ?4, failure_count = failure_count + 1,
                lease_owner = NULL, lease_until = NULL, updated_at = ?5
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND sealed_token = ?6
            """)
        statement.bind(4, errorCode)
        statement.bind(5, now)
        statement.bind(6, deadToken)
        return try changing(statement, key)
    }

    /// Records a failed refresh that leaves the token usable (a transient error): counts it, keeps the code.
    @discardableResult
    public func recordFailure(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool {
        let statement = try connection.cached(
            """
            UPDATE tokens SET failure_count = failure_count + 1, last_error_code = ?4, updated_at = ?5
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3
            """)
        statement.bind(4, errorCode)
        statement.bind(5, now)
        return try changing(statement, key)
    }

    /// Deletes every row of a tenant. Returns how many went.
    @discardableResult
    public func deleteTenant(_ tenant: String) throws -> Int {
        try connection.writeTransaction {
            try requireUnmarked()
            let statement = try connection.cached("DELETE FROM tokens WHERE tenant = ?")
            statement.bind(1, tenant)
            try statement.run()
            let deleted = statement.changes
            let keys = try connection.cached("DELETE FROM token_keys WHERE tenant = ?")
            keys.bind(1, tenant)
            try keys.run()
            let counts = try connection.cached("DELETE FROM key_version_rows WHERE tenant = ?")
            counts.bind(1, tenant)
            try counts.run()
            return deleted
        }
    }

    // MARK: - Queries

    /// Every distinct tenant with rows, sorted.
    public func tenants() throws -> [String] {
        let statement = try connection.cached("SELECT DISTINCT tenant FROM tokens ORDER BY tenant")
        defer { statement.reset() }
        var tenants: [String] = []
        while try statement.step() { tenants.append(statement.text(0)) }
        return tenants
    }

    /// Every row of a tenant, with or without a token.
    public func count(tenant: String) throws -> Int {
        let statement = try connection.cached("SELECT count(*) FROM tokens WHERE tenant = ?")
        defer { statement.reset() }
        statement.bind(1, tenant)
        return try statement.step() ? Int(statement.int(0)) : 0
    }

    /// Rows of a tenant per status.
    public func statusCounts(tenant: String) throws -> [TokenStatus: Int] {
        let statement = try connection.cached("SELECT status, count(*) FROM tokens WHERE tenant = ? GROUP BY status")
        defer { statement.reset() }
        statement.bind(1, tenant)
        var counts: [TokenStatus: Int] = [:]
        while try statement.step() {
            if let status = TokenStatus(rawValue: statement.text(0)) { counts[status] = Int(statement.int(1)) }
        }
        return counts
    }

    /// The oldest `refreshed_at` among a tenant's rows that still hold a token.
    public func oldestRefresh(tenant: String) throws -> Date? {
        let statement = try connection.cached(
            "SELECT min(refreshed_at) FROM tokens WHERE tenant = ? AND sealed_token IS NOT NULL")
        defer { statement.reset() }
        statement.bind(1, tenant)
        return try statement.step() ? statement.date(0) : nil
    }

    /// How many rows the store holds.
    public func count() throws -> Int { Int(try connection.scalar("SELECT count(*) FROM tokens")) }

    /// How many rows of `tenant` hold a token sealed with a version of `secret` (rows whose token was
    /// dropped or that a crypto-shred left hold none).
    public func tokenCount(tenant: String, secret: String) throws -> Int {
        let statement = try connection.cached(
            "SELECT count(*) FROM tokens WHERE tenant = ? AND secret_name = ? AND sealed_token IS NOT NULL")
        defer { statement.reset() }
        statement.bind(1, tenant)
        statement.bind(2, secret)
        return try statement.step() ? Int(statement.int(0)) : 0
    }

    /// Whether any row holds a token.
    public func holdsTokens() throws -> Bool {
        try connection.scalar("SELECT EXISTS (SELECT 1 FROM key_version_rows WHERE rows > 0)") != 0
    }

    /// Streams rows matching the filters (nil means any), ordered by tenant, user, provider. The row
    /// value passed to `body` is only valid during the call; `body` may stop early by returning false.
    public func forEach(
        tenant: String?, user: String?, provider: String?, status: TokenStatus?,
        _ body: (StoredToken) throws -> Bool
    ) throws {
        let statement = try connection.cached(
            """
            SELECT \(Self.columns) FROM \(Self.joined)
            WHERE (?1 IS NULL OR t.tenant = ?1) AND (?2 IS NULL OR t.user_id = ?2) AND (?3 IS NULL OR t.provider = ?3)
              AND (?4 IS NULL OR t.status = ?4)
            ORDER BY t.tenant, t.user_id, t.provider
            """)
        defer { statement.reset() }
        statement.bind(1, tenant)
        statement.bind(2, user)
        statement.bind(3, provider)
        statement.bind(4, status?.rawValue)
        while try statement.step() {
            guard try body(Self.row(statement)) else { return }
        }
    }

    /// Up to `limit` active rows of `provider` that hold a token and are due for refresh: refreshed
    /// before `refreshedBefore`, or expiring before `expiringBefore`, and not leased by anyone at `now`.
    /// Keyset-paginated by id.
    public func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int
    ) throws -> [StoredToken] {
        let statement = try connection.cached(Self.dueForRefreshSQL)
        defer { statement.reset() }
        statement.bind(1, provider)
        statement.bind(2, refreshedBefore)
        statement.bind(3, expiringBefore)
        statement.bind(4, now)
        statement.bind(5, afterID)
        statement.bind(6, limit)
        var rows: [StoredToken] = []
        while try statement.step() { rows.append(Self.row(statement)) }
        return rows
    }

    /// The statement of ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)``: each
    /// half of the union reads one index (`tokens_by_refresh`, `tokens_by_expiry`). A constant, so the tests
    /// plan the very text the store prepares.
    static let dueForRefreshSQL = """
        SELECT \(columns) FROM \(joined)
        WHERE t.id IN (
            SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND refreshed_at < ?2
            UNION
            SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND ?3 IS NOT NULL AND expires_at < ?3)
          AND t.id > ?5 AND t.sealed_token IS NOT NULL AND (t.lease_until IS NULL OR t.lease_until < ?4)
        ORDER BY t.id LIMIT ?6
        """

    // MARK: - Rows

    static func row(_ statement: SQLiteStatement) -> StoredToken {
        StoredToken(
            id: statement.int(0),
            key: TokenKey(tenant: statement.text(1), user: statement.text(2), provider: statement.text(3)),
            secretName: statement.text(4), keyVersion: Int(statement.int(5)), sealedToken: statement.blob(6),
            issuedAt: statement.date(7) ?? Date(timeIntervalSince1970: 0), refreshedAt: statement.date(8),
            expiresAt: statement.date(9), status: TokenStatus(rawValue: statement.text(10)) ?? .needsReauth,
            failureCount: Int(statement.int(11)), lastErrorCode: statement.optionalText(12),
            leaseOwner: statement.optionalText(13), leaseUntil: statement.date(14),
            updatedAt: statement.date(15) ?? Date(timeIntervalSince1970: 0), wrappedKey: statement.blob(16))
    }

    func bindAll(_ statement: SQLiteStatement, _ token: StoredToken) {
        statement.bind(1, token.key.tenant)
        statement.bind(2, token.key.user)
        statement.bind(3, token.key.provider)
        statement.bind(4, token.secretName)
        // An envelope row's version lives with its data key; its own column says 0 (the envelope format).
        statement.bind(
            5, StoredToken.tokenColumnVersion(token.keyVersion, wrappedKey: token.wrappedKey, sealed: token.sealedToken)
        )
        statement.bind(6, token.sealedToken)
        statement.bind(7, token.issuedAt)
        statement.bind(8, token.refreshedAt)
        statement.bind(9, token.expiresAt)
        statement.bind(10, token.status.rawValue)
        statement.bind(11, token.failureCount)
        statement.bind(12, token.lastErrorCode)
        statement.bind(13, token.leaseOwner)
        statement.bind(14, token.leaseUntil)
        statement.bind(15, token.updatedAt)
    }

    private func changing(_ sql: String, _ key: TokenKey) throws -> Bool {
        try changing(try connection.cached(sql), key)
    }

    /// Runs a statement whose parameters 1-3 are tenant, user and provider; returns whether a row changed.
    private func changing(_ statement: SQLiteStatement, _ key: TokenKey) throws -> Bool {
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        try statement.run()
        return statement.changes > 0
    }
}

@available(*, unavailable)
extension SQLiteTokenStore: Sendable {}

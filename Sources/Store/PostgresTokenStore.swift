import Foundation
import PostgresClient
import Support

/// The PostgreSQL token store: the ``TokenStore`` contract over libpq, for state that must outlive a CI
/// agent and serve several hosts (README "When one host is not enough"; ../shared/DESIGN.md "State backends").
///
/// - Schema: ``PostgresSchema``'s migrations, recorded in `schema_migrations`; the per-version counts are
///   kept by statement-level triggers, so every statement that writes `tokens` moves them in its own
///   transaction (I1). The store's identity is the `store_identity` row.
/// - Statements are prepared once per session, with binary parameters (a sealed token travels as raw
///   `bytea`, never spliced into SQL); a rotation's rewrap batch is one set-based `UPDATE ... FROM unnest(...)`.
/// - Time: with ``Clock/database`` (what every public initializer uses) leases and "due for refresh" are
///   judged by the database's `now()`, never a host's clock: the `now:` a caller passes only gives a lease
///   its length (`until - now`) and a cutoff its age (`now - refreshedBefore`), measured from the database's
///   time. So hosts whose clocks disagree never both hold a lease. The times a caller writes (refreshed,
///   issued, updated) are stored as given.
/// - Durability: ``syncCommits()`` and ``makeDurable()`` do nothing: a PostgreSQL commit returns only once
///   its WAL is flushed (the default `synchronous_commit = on`, which tokenkeeper never lowers).
/// - The connection string is a secret: kept only to open further sessions, never in ``location``, an
///   error or a log; libpq's messages are scrubbed of its values (``PostgresError``).
///
/// Not `Sendable`: one instance is one session (connection); ``openSession()`` opens another.
public final class PostgresTokenStore: TokenStore {
    /// Which clock leases and "due" are judged by.
    package enum Clock: Sendable {
        /// The database's `now()`: production.
        case database
        /// The `now:` the caller passes, as the embedded store does: for the conformance suite, which
        /// moves time by hand. Never for hosts that share a store.
        case caller
    }

    /// The session.
    package let connection: PostgresConnection
    /// The connection string, a secret: only for ``openSession()``.
    private let connectionString: String
    /// The clock leases and "due" use.
    package let clock: Clock
    /// The TLS rule every session of this store keeps.
    public let tls: PostgresTLS
    /// The store's identity (the `store_identity` row).
    public let identity: StoreIdentity

    /// The columns every row query selects from `tokens`, in ``StoredToken`` order: the key version of an
    /// envelope row and its wrapped data key come from its row of `token_keys` (by primary key), the version
    /// of an old-format row from its own column.
    static let columns = """
        id, tenant, user_id, provider, secret_name, \
        coalesce((SELECT k.key_version FROM token_keys k WHERE k.token_id = tokens.id), key_version), sealed_token, \
        issued_at, refreshed_at, expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at, \
        (SELECT k.wrapped_key FROM token_keys k WHERE k.token_id = tokens.id)
        """

    /// Opens the existing store in the database `connectionString` names and migrates its schema unless
    /// `readOnly`. Never creates one: a database without tokenkeeper's tables is refused
    /// (``create(connectionString:location:)`` makes new stores).
    ///
    /// A read-only open of a store an older tokenkeeper left (schema 1 or 2) migrates nothing: it reads the
    /// old rows through empty temporary stand-ins for the later tables, which the role must be allowed to
    /// create (the TEMPORARY privilege on the database, which `scripts/postgres/store-role.sql` grants).
    /// - Parameters:
    ///   - connectionString: a libpq keyword/value string or URI: a secret, never printed.
    ///   - location: how messages name the store, for example `postgres:env:TOKENKEEPER_STORE_URL`.
    ///   - tls: ``PostgresTLS/verifiedOffHost`` unless the spec accepts less in so many words.
    /// - throws: ``PostgresError``, ``StoreError`` (`empty`, `schemaTooNew`, `noTemporaryTables`, `needsMigration`).
    public convenience init(
        connectionString: String, location: String, readOnly: Bool = false,
        tls: PostgresTLS = .verifiedOffHost
    ) throws {
        try self.init(
            connectionString: connectionString, location: location, readOnly: readOnly, tls: tls, clock: .database,
            creating: false)
    }

    package init(
        connectionString: String, location: String, readOnly: Bool, tls: PostgresTLS = .verifiedOffHost, clock: Clock,
        creating: Bool
    ) throws {
        connection = try PostgresConnection(
            connectionString: connectionString, location: location, readOnly: readOnly, tls: tls)
        self.connectionString = connectionString
        self.clock = clock
        self.tls = tls
        let found = try Self.migrate(connection, creating: creating)
        if found < PostgresSchema.currentVersion {
            // A read-only session on an older schema: empty stand-ins for the later tables (nothing is written).
            try PostgresSchema.emulateLaterTables(connection, from: found)
        }
        let rows = try connection.query(
            "SELECT id, created_at FROM store_identity WHERE singleton = 1", purpose: "read the store identity")
        guard rows.count == 1 else { throw StoreError.empty(path: location) }
        identity = StoreIdentity(id: rows.text(0, 0), createdAt: rows.text(0, 1))
        // A store `state copy` moved elsewhere never opens again: its tokens would be a stale copy.
        if let mark = try stateMark(), mark.kind == .moved { throw mark.refusal(at: location) }
    }

    /// Creates the store's tables in the (empty) database `connectionString` names and opens it.
    /// - throws: ``StoreError/exists(path:)`` when the database holds a store (or a `tokens` table)
    ///   already, ``PostgresError``.
    public static func create(connectionString: String, location: String, tls: PostgresTLS = .verifiedOffHost) throws
        -> PostgresTokenStore
    {
        try PostgresTokenStore(
            connectionString: connectionString, location: location, readOnly: false, tls: tls, clock: .database,
            creating: true)
    }

    /// Brings the schema up to ``PostgresSchema/currentVersion`` in one transaction per migration run,
    /// under an advisory lock, and returns the version the session reads: the current one, or on a read-only
    /// session the store's older one, which it leaves as it is (``PostgresSchema/emulateLaterTables(_:from:)``).
    private static func migrate(_ connection: PostgresConnection, creating: Bool) throws -> Int {
        let location = connection.location
        return try connection.transaction(purpose: "schema migration") {
            if !connection.isReadOnly {
                try connection.query(
                    "SELECT pg_advisory_xact_lock($1)", [.int8(PostgresSchema.migrationLock)], purpose: "schema lock")
            }
            let tables = try connection.query(
                "SELECT to_regclass('schema_migrations') IS NOT NULL, to_regclass('tokens') IS NOT NULL",
                purpose: "find the schema")
            let hasMigrations = tables.int(0, 0) != 0, hasTokens = tables.int(0, 1) != 0
            if creating {
                guard !hasMigrations, !hasTokens else { throw StoreError.exists(path: location) }
                try connection.execute(
                    """
                    CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                    """, purpose: "create schema_migrations")
            } else {
                guard hasMigrations else { throw StoreError.empty(path: location) }
            }
            let found = Int(
                try connection.query(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations", purpose: "read the schema version"
                )
                .int(0, 0))
            let known = PostgresSchema.currentVersion
            guard found <= known else { throw StoreError.schemaTooNew(path: location, found: found, known: known) }
            guard found < known, !connection.isReadOnly else { return found }
            for version in (found + 1)...known {
                try connection.execute(PostgresSchema.migrations[version - 1], purpose: "schema migration \(version)")
                try connection.query(
                    "INSERT INTO schema_migrations (version) VALUES ($1)", [.int4(Int32(version))],
                    purpose: "record schema migration \(version)")
            }
            return known
        }
    }

    /// How messages name the store (never the connection string).
    public var location: String { connection.location }

    /// Whether this session refuses writes.
    public var isReadOnly: Bool { connection.isReadOnly }

    /// A new connection to the same database, read-only if this one is, with the same clock.
    public func openSession() throws -> any TokenStore {
        try PostgresTokenStore(
            connectionString: connectionString, location: location, readOnly: isReadOnly, tls: tls, clock: clock,
            creating: false)
    }

    /// Does nothing: every commit is durable when it returns (`synchronous_commit = on`, the server's default).
    public func syncCommits() async throws {}

    /// Does nothing: see ``syncCommits()``.
    public func makeDurable() throws {}

    /// Does nothing: the server checkpoints its own log, and no session waits for it.
    public func checkpoint() throws {}

    /// False: a PostgreSQL writer locks only the rows it changes; readers never wait.
    public var writersWaitForEachOther: Bool { false }

    /// Runs `body`: PostgreSQL has no setting a session should change for a long run of write batches.
    public func withCheckpointInterval<T>(pages: Int, _ body: () throws -> T) throws -> T { try body() }

    /// Runs `body`: the server's buffers serve a bulk load as well as any other.
    public func withBulkLoad<T>(_ body: () throws -> T) throws -> T { try body() }

    /// "Now" in SQL for the store's clock: the database's `now()` in unix milliseconds, or the parameter
    /// `$index` that carries the caller's `now`.
    func now(_ index: Int) -> String {
        switch clock {
        case .database: "floor(extract(epoch FROM now()) * 1000)::bigint"
        case .caller: "$\(index)::bigint"
        }
    }

    // MARK: - Single rows

    /// Inserts the row, or replaces every field of the row with the same key (keeping its id). One statement.
    @discardableResult
    public func put(_ token: StoredToken) throws -> Bool {
        try connection.transaction(purpose: "put a token") {
            try requireUnmarked()
            let isNew = try upsert(token)
            try writeDataKeys(of: [token])
            return isNew
        }
    }

    /// The insert-or-replace of one row in `tokens` (its data key is written apart). Returns whether it was new.
    func upsert(_ token: StoredToken) throws -> Bool {
        let rows = try connection.query(
            """
            INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
                expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (tenant, user_id, provider) DO UPDATE SET
                secret_name = EXCLUDED.secret_name, key_version = EXCLUDED.key_version, sealed_token = EXCLUDED.sealed_token,
                issued_at = EXCLUDED.issued_at, refreshed_at = EXCLUDED.refreshed_at, expires_at = EXCLUDED.expires_at,
                status = EXCLUDED.status, failure_count = EXCLUDED.failure_count, last_error_code = EXCLUDED.last_error_code,
                lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at
            RETURNING xmax = 0
            """, Self.values(token), purpose: "put a token")
        return rows.int(0, 0) != 0
    }

    /// Puts many rows in one statement (so one transaction), each as ``put(_:)`` does. Returns, per row,
    /// whether it was new. A key twice in the batch ends as its last row, as one `put` after another
    /// would leave it: only its first occurrence can be new.
    public func putBatch(_ tokens: [StoredToken]) throws -> [Bool] {
        guard !tokens.isEmpty else { return [] }
        // ON CONFLICT DO UPDATE may touch a row only once per statement: the last row of each key goes.
        var lastIndex: [TokenKey: Int] = [:]
        for (index, token) in tokens.enumerated() { lastIndex[token.key] = index }
        let unique = tokens.indices.filter { lastIndex[tokens[$0].key] == $0 }.map { tokens[$0] }
        let rows = try connection.transaction(purpose: "put a batch of tokens") {
            try requireUnmarked()
            let rows = try connection.query(
                Self.batchInsert + """

                    ON CONFLICT (tenant, user_id, provider) DO UPDATE SET
                        secret_name = EXCLUDED.secret_name, key_version = EXCLUDED.key_version, sealed_token = EXCLUDED.sealed_token,
                        issued_at = EXCLUDED.issued_at, refreshed_at = EXCLUDED.refreshed_at, expires_at = EXCLUDED.expires_at,
                        status = EXCLUDED.status, failure_count = EXCLUDED.failure_count, last_error_code = EXCLUDED.last_error_code,
                        lease_owner = EXCLUDED.lease_owner, lease_until = EXCLUDED.lease_until, updated_at = EXCLUDED.updated_at
                    RETURNING tenant, user_id, provider, xmax = 0
                    """, Self.batchValues(unique), purpose: "put a batch of tokens")
            try writeDataKeys(of: unique)
            return rows
        }
        var isNew: [TokenKey: Bool] = [:]
        for index in 0..<rows.count {
            let key = TokenKey(tenant: rows.text(index, 0), user: rows.text(index, 1), provider: rows.text(index, 2))
            isNew[key] = rows.int(index, 3) != 0
        }
        var seen = Set<TokenKey>()
        return tokens.map { token in seen.insert(token.key).inserted && isNew[token.key] == true }
    }

    /// The row for `key`, or nil.
    public func get(_ key: TokenKey) throws -> StoredToken? {
        let rows = try connection.query(
            "SELECT \(Self.columns) FROM tokens WHERE tenant = $1 AND user_id = $2 AND provider = $3",
            Self.values(key), purpose: "read a token")
        return rows.count > 0 ? Self.row(rows, 0) : nil
    }

    /// Deletes the row for `key`. Returns whether there was one.
    @discardableResult
    public func delete(_ key: TokenKey) throws -> Bool {
        try connection.transaction(purpose: "delete a token") {
            try requireUnmarked()
            return try connection.query(
                "DELETE FROM tokens WHERE tenant = $1 AND user_id = $2 AND provider = $3", Self.values(key),
                purpose: "delete a token"
            ).changes > 0
        }
    }

    /// Drops the refresh token but keeps the record, with status `revoked`. Returns whether a token was dropped.
    @discardableResult
    public func dropRefreshToken(_ key: TokenKey, now: Date) throws -> Bool {
        try connection.transaction(purpose: "drop a refresh token") {
            try requireUnmarked()
            let rows = try connection.query(
                """
                UPDATE tokens SET sealed_token = NULL, status = 'revoked', lease_owner = NULL, lease_until = NULL, updated_at = $4,
                    key_version = coalesce((SELECT k.key_version FROM token_keys k WHERE k.token_id = tokens.id), key_version)
                WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND (sealed_token IS NOT NULL OR status != 'revoked')
                RETURNING id
                """, Self.values(key) + [.time(now)], purpose: "drop a refresh token")
            guard rows.count > 0 else { return false }
            try connection.query(
                "DELETE FROM token_keys WHERE token_id = $1", [.int8(rows.int(0, 0))], purpose: "drop a data key")
            return true
        }
    }

    /// Marks a row `needs_reauth` with the provider's error code.
    @discardableResult
    public func markNeedsReauth(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool {
        try connection.query(
            """
            UPDATE tokens SET status = 'needs_reauth', last_error_code = $4, failure_count = failure_count + 1,
                lease_owner = NULL, lease_until = NULL, updated_at = $5
            WHERE tenant = $1 AND user_id = $2 AND provider = $3
            """, Self.values(key) + [.text(errorCode), .time(now)], purpose: "mark a token needs_reauth"
        ).changes > 0
    }

    /// Marks a row `needs_reauth` only while it still holds `deadToken`.
    @discardableResult
    public func markNeedsReauth(_ key: TokenKey, errorCode: String?, now: Date, ifStillHolding deadToken: [UInt8])
        throws
        -> Bool
    {
        try connection.query(
            """
            UPDATE tokens SET status = 'needs_reauth', last_error_code = $4, failure_count = failure_count + 1,
                lease_owner = NULL, lease_until = NULL, updated_at = $5
            WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND sealed_token = $6
            """, Self.values(key) + [.text(errorCode), .time(now), .bytea(deadToken)],
            purpose: "mark a token needs_reauth"
        ).changes > 0
    }

    /// Records a failed refresh that leaves the token usable.
    @discardableResult
    public func recordFailure(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool {
        try connection.query(
            """
            UPDATE tokens SET failure_count = failure_count + 1, last_error_code = $4, updated_at = $5
            WHERE tenant = $1 AND user_id = $2 AND provider = $3
            """, Self.values(key) + [.text(errorCode), .time(now)], purpose: "record a failed refresh"
        ).changes > 0
    }

    /// Deletes every row of a tenant (the triggers drop its counts). Returns how many went.
    @discardableResult
    public func deleteTenant(_ tenant: String) throws -> Int {
        try connection.transaction(purpose: "delete a tenant") {
            try requireUnmarked()
            return try connection.query(
                "DELETE FROM tokens WHERE tenant = $1", [.text(tenant)], purpose: "delete a tenant"
            ).changes
        }
    }

    /// Inserts many new rows in one statement (so one transaction); an existing key (or one twice in the
    /// batch) fails it all.
    @discardableResult
    public func insertBatch(_ tokens: [StoredToken]) throws -> Int {
        guard !tokens.isEmpty else { return 0 }
        return try connection.transaction(purpose: "insert a batch of tokens") {
            try requireUnmarked()
            let inserted = try connection.query(
                Self.batchInsert, Self.batchValues(tokens), purpose: "insert a batch of tokens"
            ).changes
            try writeDataKeys(of: tokens)
            return inserted
        }
    }

    // MARK: - Batches

    /// The set-based insert of a batch: one row per element of the arrays ``batchValues(_:)`` binds as
    /// $1-$15, in the batch's order (so ids follow it).
    static let batchInsert = """
        INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
            expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at)
        SELECT tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
            expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int4[], $6::bytea[], $7::int8[], $8::int8[],
            $9::int8[], $10::text[], $11::int4[], $12::text[], $13::text[], $14::int8[], $15::int8[])
            WITH ORDINALITY AS batch (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at,
                refreshed_at, expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at,
                position)
        ORDER BY position
        """

    /// The parameters of ``batchInsert``: one binary array per column, in column order (without the id).
    static func batchValues(_ tokens: [StoredToken]) -> [PostgresValue] {
        func time(_ date: Date?) -> Int64? { date.map(PostgresValue.milliseconds) }
        return [
            .textArray(tokens.map(\.key.tenant)), .textArray(tokens.map(\.key.user)),
            .textArray(tokens.map(\.key.provider)), .textArray(tokens.map(\.secretName)),
            .int4Array(
                tokens.map {
                    Int32(
                        clamping: StoredToken.tokenColumnVersion(
                            $0.keyVersion, wrappedKey: $0.wrappedKey, sealed: $0.sealedToken))
                }), .optionalByteaArray(tokens.map(\.sealedToken)),
            .int8Array(tokens.map { PostgresValue.milliseconds($0.issuedAt) }),
            .int8Array(tokens.map { PostgresValue.milliseconds($0.refreshedAt) }),
            .optionalInt8Array(tokens.map { time($0.expiresAt) }), .textArray(tokens.map(\.status.rawValue)),
            .int4Array(tokens.map { Int32(clamping: $0.failureCount) }),
            .optionalTextArray(tokens.map(\.lastErrorCode)), .optionalTextArray(tokens.map(\.leaseOwner)),
            .optionalInt8Array(tokens.map { time($0.leaseUntil) }),
            .int8Array(tokens.map { PostgresValue.milliseconds($0.updatedAt) }),
        ]
    }

    // MARK: - Rows

    /// The parameters $1-$15 of a full row, in column order (without the id).
    static func values(_ token: StoredToken) -> [PostgresValue] {
        values(token.key) + [
            .text(token.secretName),
            .int4(
                Int32(
                    clamping: StoredToken.tokenColumnVersion(
                        token.keyVersion, wrappedKey: token.wrappedKey, sealed: token.sealedToken))),
            .bytea(token.sealedToken),
            .time(token.issuedAt),
            .time(token.refreshedAt), .time(token.expiresAt), .text(token.status.rawValue),
            .int4(Int32(clamping: token.failureCount)),
            .text(token.lastErrorCode), .text(token.leaseOwner), .time(token.leaseUntil), .time(token.updatedAt),
        ]
    }

    /// The parameters $1-$3: tenant, user, provider.
    static func values(_ key: TokenKey) -> [PostgresValue] {
        [.text(key.tenant), .text(key.user), .text(key.provider)]
    }

    /// Row `index` of a query selecting ``columns``.
    static func row(_ rows: PostgresRows, _ index: Int) -> StoredToken {
        StoredToken(
            id: rows.int(index, 0),
            key: TokenKey(tenant: rows.text(index, 1), user: rows.text(index, 2), provider: rows.text(index, 3)),
            secretName: rows.text(index, 4), keyVersion: Int(rows.int(index, 5)), sealedToken: rows.bytes(index, 6),
            issuedAt: rows.date(index, 7) ?? Date(timeIntervalSince1970: 0), refreshedAt: rows.date(index, 8),
            expiresAt: rows.date(index, 9), status: TokenStatus(rawValue: rows.text(index, 10)) ?? .needsReauth,
            failureCount: Int(rows.int(index, 11)), lastErrorCode: rows.optionalText(index, 12),
            leaseOwner: rows.optionalText(index, 13), leaseUntil: rows.date(index, 14),
            updatedAt: rows.date(index, 15) ?? Date(timeIntervalSince1970: 0), wrappedKey: rows.bytes(index, 16))
    }
}

@available(*, unavailable)
extension PostgresTokenStore: Sendable {}

/// The token store's schema as an ordered list of migrations, tracked in `PRAGMA user_version`.
///
/// Migration N moves a store from version N-1 to N inside one transaction, so a crash leaves the
/// store at a whole version. Never edit a released migration: add a new one.
enum StoreSchema {
    /// Every migration, in order; the store's version is how many have run.
    static let migrations: [String] = [
        // 1: tokens, one row per (tenant, user, provider), with an index for each query the stages make
        //    (migration 2 replaces the rotation's index).
        """
        CREATE TABLE tokens (
            id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            secret_name TEXT NOT NULL,
            key_version INTEGER NOT NULL,
            sealed_token BLOB,
            issued_at INTEGER NOT NULL,
            refreshed_at INTEGER NOT NULL,
            expires_at INTEGER,
            status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth', 'revoked')),
            failure_count INTEGER NOT NULL DEFAULT 0,
            last_error_code TEXT,
            lease_owner TEXT,
            lease_until INTEGER,
            updated_at INTEGER NOT NULL,
            UNIQUE (tenant, user_id, provider)
        );
        -- rotation: rows of a tenant on a key version (and counts per version)
        CREATE INDEX tokens_by_tenant_version ON tokens (tenant, key_version);
        -- refresh: rows of a provider due by last refresh, or by expiry
        CREATE INDEX tokens_by_refresh ON tokens (provider, status, refreshed_at);
        CREATE INDEX tokens_by_expiry ON tokens (provider, status, expires_at);
        """,
        // 2: per-tenant counts of token-holding rows per key version, in place of the (tenant, key_version)
        // index. A rotation changes every row's key_version: the index moved an entry per row (about a third
        // of a rotation's writes); the counts change once per batch. The store keeps them in the same
        // transaction as every change to a row's key version or token (SQLiteTokenStore+KeyVersionRows).
        """
        CREATE TABLE key_version_rows (
            tenant TEXT NOT NULL,
            key_version INTEGER NOT NULL,
            rows INTEGER NOT NULL,
            PRIMARY KEY (tenant, key_version)
        ) WITHOUT ROWID;
        INSERT INTO key_version_rows (tenant, key_version, rows)
            SELECT tenant, key_version, count(*) FROM tokens WHERE sealed_token IS NOT NULL GROUP BY tenant, key_version;
        DROP INDEX tokens_by_tenant_version;
        """,
        // 3: the store's identity, a random id written once when the store is created (or first migrated):
        // the vault records the id of the store it serves, so a missing, empty or different store is
        // refused instead of being taken for a new one, and no key version is purged for another store.
        // The creation time is text (ISO 8601, UTC), apart from the tokens' integer times.
        """
        CREATE TABLE store_identity (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            id TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        INSERT INTO store_identity (singleton, id, created_at)
            VALUES (1, lower(hex(randomblob(16))), strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
        """,
        // 4: times in unix milliseconds instead of seconds, so a lease of N seconds lasts N seconds (with whole
        // seconds, its end was rounded down and "ended" meant a whole second later: up to N + 1). Every stored
        // time is converted; NULL stays NULL.
        """
        UPDATE tokens SET issued_at = issued_at * 1000, refreshed_at = refreshed_at * 1000, expires_at = expires_at * 1000,
            lease_until = lease_until * 1000, updated_at = updated_at * 1000;
        """,
        // 5: envelope encryption. Each token is sealed under its own data key (DEK); the DEK, wrapped under the
        // tenant's key version (`nonce ‖ wrapped key ‖ tag`, 60 bytes), lives in this narrow table beside the
        // tokens with the row identity its binding names, so a rotation reads and rewrites only these rows,
        // never a token's pages. A token row with a `token_keys` row is in the envelope format and says
        // key_version 0 (its version lives here); a token row without one is in the old format (sealed directly
        // under a tenant key) until the rotate stage or `state migrate` moves it over: the partial index finds
        // and counts those rows per tenant (empty, so free, once the migration is done).
        """
        CREATE TABLE token_keys (
            token_id INTEGER PRIMARY KEY,
            tenant TEXT NOT NULL,
            user_id TEXT NOT NULL,
            provider TEXT NOT NULL,
            key_version INTEGER NOT NULL,
            wrapped_key BLOB NOT NULL
        );
        CREATE INDEX tokens_old_format ON tokens (tenant) WHERE key_version != 0 AND sealed_token IS NOT NULL;
        """,
        // 6: the mark `state copy` leaves (``StateMark``): at most one row. `frozen` while the store is being
        //    copied (token use is refused), `moved` once it was (nothing opens it), `receiving` on the
        //    destination until the copy is verified. Times in unix milliseconds, as the tokens'.
        """
        CREATE TABLE IF NOT EXISTS state_mark (
            singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
            kind TEXT NOT NULL CHECK (kind IN ('frozen', 'moved', 'receiving')),
            peer TEXT NOT NULL,
            copy_id TEXT NOT NULL,
            marked_at INTEGER NOT NULL
        );
        """,
    ]

    /// The oldest schema a read-only session reads without migrating: the tables of later migrations are
    /// stood in for by empty temporary ones (``emulateLaterTables(_:from:)``), so a dry run or `status` works
    /// on a store an older tokenkeeper wrote without writing it (I5). Older schemas kept times in seconds.
    static let oldestReadableVersion = 4

    /// The schema version this build of tokenkeeper writes.
    static var currentVersion: Int { migrations.count }

    /// Brings `connection` up to ``currentVersion``.
    /// - Parameter creating: whether the database is a new store being made; otherwise a database without
    ///   tokenkeeper's tables is an empty file, never taken for a new store.
    /// - throws: ``StoreError/schemaTooNew(path:found:known:)`` for a store written by a newer tokenkeeper,
    ///   ``StoreError/empty(path:)`` for a database without tables.
    static func migrate(_ connection: SQLiteConnection, creating: Bool = false) throws {
        let found = Int(try connection.scalar("PRAGMA user_version"))
        guard found > 0 || creating else { throw StoreError.empty(path: connection.path) }
        guard found <= currentVersion else {
            throw StoreError.schemaTooNew(path: connection.path, found: found, known: currentVersion)
        }
        guard found < currentVersion else { return }
        guard !connection.isReadOnly else {
            guard found >= oldestReadableVersion else {
                throw StoreError.needsMigration(path: connection.path, found: found, known: currentVersion)
            }
            try emulateLaterTables(connection, from: found)
            return
        }
        for version in (found + 1)...currentVersion {
            try connection.writeTransaction {
                try connection.execute(migrations[version - 1])
                try connection.execute("PRAGMA user_version = \(version)")
            }
        }
    }

    /// Gives a read-only session on a store of schema `found` the tables of later migrations, empty and
    /// temporary (in the session's own temp database; the store file is never written): every row of such
    /// a store is in the old format, which is what an empty `token_keys` says; and no older store carries a
    /// `state copy` mark, which is what an empty `state_mark` says.
    private static func emulateLaterTables(_ connection: SQLiteConnection, from found: Int) throws {
        guard found < 6 else { return }
        // `query_only` refuses temporary tables too: lifted for this one statement, which writes only the
        // session's temp database, then set again before anything else runs.
        let queryOnly = try connection.scalar("PRAGMA query_only") != 0
        if queryOnly { try connection.execute("PRAGMA query_only=OFF") }
        let created = Result {
            if found < 5 {
                try connection.execute(
                    """
                    CREATE TEMP TABLE token_keys (token_id INTEGER PRIMARY KEY, tenant TEXT NOT NULL, user_id TEXT NOT NULL,
                        provider TEXT NOT NULL, key_version INTEGER NOT NULL, wrapped_key BLOB NOT NULL)
                    """)
            }
            try connection.execute(
                """
                CREATE TEMP TABLE state_mark (singleton INTEGER PRIMARY KEY, kind TEXT NOT NULL, peer TEXT NOT NULL,
                    copy_id TEXT NOT NULL, marked_at INTEGER NOT NULL)
                """)
        }
        if queryOnly { try connection.execute("PRAGMA query_only=ON") }
        try created.get()
    }
}

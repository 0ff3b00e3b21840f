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
        // 5: reserved for the envelope's wrapped data keys (branch `env`); nothing here. When the two merge,
        //    `env`'s migration takes this place and the state mark below stays 6.
        "SELECT 1",
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
            throw StoreError.needsMigration(path: connection.path, found: found, known: currentVersion)
        }
        for version in (found + 1)...currentVersion {
            try connection.writeTransaction {
                try connection.execute(migrations[version - 1])
                try connection.execute("PRAGMA user_version = \(version)")
            }
        }
    }
}

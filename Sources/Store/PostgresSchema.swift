import PostgresClient

/// The PostgreSQL store's schema as an ordered list of migrations, each recorded in the database's
/// `schema_migrations` table with the time it ran.
///
/// Migration N runs in one transaction with the row that records it, under a transaction-scoped
/// advisory lock, so two processes opening a store at once never run a migration twice and a crash
/// leaves the store at a whole version. Never edit a released migration: add a new one.
enum PostgresSchema {
    /// The advisory lock key migrations take (`pg_advisory_xact_lock`): "tkschema" in ASCII.
    static let migrationLock: Int64 = 0x746b_7363_6865_6d61

    /// Every migration, in order; the store's version is the highest recorded.
    static let migrations: [String] = [
        // 1: the store as the SQLite store's schema version 4 has it: tokens (times in unix milliseconds,
        //    keys in byte order, `COLLATE "C"`, as SQLite compares them), the per-version counts, and the
        //    store's identity. The counts are kept by statement-level triggers over the transition tables,
        //    so every statement that writes tokens moves them in its own transaction, once per statement.
        """
        CREATE TABLE tokens (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            tenant text COLLATE "C" NOT NULL,
            user_id text COLLATE "C" NOT NULL,
            provider text COLLATE "C" NOT NULL,
            secret_name text NOT NULL,
            key_version integer NOT NULL,
            sealed_token bytea,
            issued_at bigint NOT NULL,
            refreshed_at bigint NOT NULL,
            expires_at bigint,
            status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'needs_reauth', 'revoked')),
            failure_count integer NOT NULL DEFAULT 0,
            last_error_code text,
            lease_owner text,
            lease_until bigint,
            updated_at bigint NOT NULL,
            UNIQUE (tenant, user_id, provider)
        );
        CREATE INDEX tokens_by_refresh ON tokens (provider, status, refreshed_at);
        CREATE INDEX tokens_by_expiry ON tokens (provider, status, expires_at);
        CREATE TABLE key_version_rows (
            tenant text COLLATE "C" NOT NULL,
            key_version integer NOT NULL,
            rows bigint NOT NULL,
            PRIMARY KEY (tenant, key_version)
        );
        CREATE FUNCTION tokens_count_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, count(*) FROM new_rows WHERE sealed_token IS NOT NULL
                    GROUP BY tenant, key_version ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
                RETURN NULL;
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE key_version_rows kept SET rows = kept.rows - gone.n
                    FROM (SELECT tenant, key_version, count(*) AS n FROM old_rows WHERE sealed_token IS NOT NULL
                          GROUP BY tenant, key_version) gone
                    WHERE kept.tenant = gone.tenant AND kept.key_version = gone.key_version;
            ELSE
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, sum(delta) FROM (
                        SELECT tenant, key_version, 1 AS delta FROM new_rows WHERE sealed_token IS NOT NULL
                        UNION ALL
                        SELECT tenant, key_version, -1 FROM old_rows WHERE sealed_token IS NOT NULL) moved
                    GROUP BY tenant, key_version HAVING sum(delta) != 0 ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
            END IF;
            DELETE FROM key_version_rows kept USING (SELECT DISTINCT tenant, key_version FROM old_rows) touched
                WHERE kept.tenant = touched.tenant AND kept.key_version = touched.key_version AND kept.rows = 0;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER tokens_counts_on_insert AFTER INSERT ON tokens REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION tokens_count_key_versions();
        CREATE TRIGGER tokens_counts_on_update AFTER UPDATE ON tokens REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION tokens_count_key_versions();
        CREATE TRIGGER tokens_counts_on_delete AFTER DELETE ON tokens REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION tokens_count_key_versions();
        CREATE TABLE store_identity (
            singleton integer PRIMARY KEY CHECK (singleton = 1),
            id text NOT NULL,
            created_at text NOT NULL
        );
        INSERT INTO store_identity (singleton, id, created_at)
            VALUES (1, replace(gen_random_uuid()::text, '-', ''), to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
        """,
        // 2: envelope encryption, as the SQLite store's schema version 5 has it. Each token is sealed under its own
        //    data key (DEK); the DEK, wrapped under the tenant's key version (`nonce ‖ wrapped key ‖ tag`), lives in
        //    this narrow table with the row identity its binding names, so a rotation reads and rewrites only it.
        //    A token row with a `token_keys` row is in the envelope format and says key_version 0; one without is
        //    in the old format until the rotate stage or `state migrate` moves it (the partial index finds those).
        //    The counts: the tokens triggers now count old-format rows only, token_keys' own triggers the
        //    envelope rows, each by statement over its transition tables; deleting a token row cascades.
        """
        CREATE TABLE token_keys (
            token_id bigint PRIMARY KEY REFERENCES tokens (id) ON DELETE CASCADE,
            tenant text COLLATE "C" NOT NULL,
            user_id text COLLATE "C" NOT NULL,
            provider text COLLATE "C" NOT NULL,
            key_version integer NOT NULL,
            wrapped_key bytea NOT NULL
        );
        CREATE INDEX tokens_old_format ON tokens (tenant) WHERE key_version != 0 AND sealed_token IS NOT NULL;
        CREATE OR REPLACE FUNCTION tokens_count_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, count(*) FROM new_rows WHERE sealed_token IS NOT NULL AND key_version != 0
                    GROUP BY tenant, key_version ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
                RETURN NULL;
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE key_version_rows kept SET rows = kept.rows - gone.n
                    FROM (SELECT tenant, key_version, count(*) AS n FROM old_rows
                          WHERE sealed_token IS NOT NULL AND key_version != 0 GROUP BY tenant, key_version) gone
                    WHERE kept.tenant = gone.tenant AND kept.key_version = gone.key_version;
            ELSE
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, sum(delta) FROM (
                        SELECT tenant, key_version, 1 AS delta FROM new_rows WHERE sealed_token IS NOT NULL AND key_version != 0
                        UNION ALL
                        SELECT tenant, key_version, -1 FROM old_rows WHERE sealed_token IS NOT NULL AND key_version != 0) moved
                    GROUP BY tenant, key_version HAVING sum(delta) != 0 ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
            END IF;
            DELETE FROM key_version_rows kept USING (SELECT DISTINCT tenant, key_version FROM old_rows) touched
                WHERE kept.tenant = touched.tenant AND kept.key_version = touched.key_version AND kept.rows = 0;
            RETURN NULL;
        END
        $$;
        CREATE FUNCTION token_keys_count_key_versions() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, count(*) FROM new_rows
                    GROUP BY tenant, key_version ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
                RETURN NULL;
            ELSIF TG_OP = 'DELETE' THEN
                UPDATE key_version_rows kept SET rows = kept.rows - gone.n
                    FROM (SELECT tenant, key_version, count(*) AS n FROM old_rows GROUP BY tenant, key_version) gone
                    WHERE kept.tenant = gone.tenant AND kept.key_version = gone.key_version;
            ELSE
                INSERT INTO key_version_rows AS kept (tenant, key_version, rows)
                    SELECT tenant, key_version, sum(delta) FROM (
                        SELECT tenant, key_version, 1 AS delta FROM new_rows
                        UNION ALL
                        SELECT tenant, key_version, -1 FROM old_rows) moved
                    GROUP BY tenant, key_version HAVING sum(delta) != 0 ORDER BY tenant, key_version
                    ON CONFLICT (tenant, key_version) DO UPDATE SET rows = kept.rows + EXCLUDED.rows;
            END IF;
            DELETE FROM key_version_rows kept USING (SELECT DISTINCT tenant, key_version FROM old_rows) touched
                WHERE kept.tenant = touched.tenant AND kept.key_version = touched.key_version AND kept.rows = 0;
            RETURN NULL;
        END
        $$;
        CREATE TRIGGER token_keys_counts_on_insert AFTER INSERT ON token_keys REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION token_keys_count_key_versions();
        CREATE TRIGGER token_keys_counts_on_update AFTER UPDATE ON token_keys
            REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION token_keys_count_key_versions();
        CREATE TRIGGER token_keys_counts_on_delete AFTER DELETE ON token_keys REFERENCING OLD TABLE AS old_rows
            FOR EACH STATEMENT EXECUTE FUNCTION token_keys_count_key_versions();
        """,
        // 3: the mark `state copy` leaves (``StateMark``), as SQLite's migration 6: at most one row.
        """
        CREATE TABLE state_mark (
            singleton integer PRIMARY KEY CHECK (singleton = 1),
            kind text NOT NULL CHECK (kind IN ('frozen', 'moved', 'receiving')),
            peer text NOT NULL,
            copy_id text NOT NULL,
            marked_at bigint NOT NULL
        );
        """,
    ]

    /// The schema version this build of tokenkeeper writes.
    static var currentVersion: Int { migrations.count }

    /// The tables later migrations add, as empty temporary stand-ins (columns as the migrations make them,
    /// without the foreign key, which a temporary table may not have): `token_keys` (migration 2) and
    /// `state_mark` (migration 3). A new migration that adds a table adds its stand-in here (a test checks).
    static let laterTables: [(version: Int, name: String, columns: String)] = [
        (
            2, "token_keys",
            """
            token_id bigint PRIMARY KEY, tenant text COLLATE "C" NOT NULL, user_id text COLLATE "C" NOT NULL,
            provider text COLLATE "C" NOT NULL, key_version integer NOT NULL, wrapped_key bytea NOT NULL
            """
        ),
        (
            3, "state_mark",
            """
            singleton integer PRIMARY KEY, kind text NOT NULL, peer text NOT NULL, copy_id text NOT NULL,
            marked_at bigint NOT NULL
            """
        ),
    ]

    /// Gives a read-only session on a store of schema `found` the tables of later migrations, empty and
    /// temporary (the session's own `pg_temp`; the store is never written), as the SQLite store does
    /// (``StoreSchema``): every row of such a store is in the old format, which is what an empty `token_keys`
    /// says, and no older store carries a `state copy` mark, which is what an empty `state_mark` says. So
    /// `status`, `plan`, `token show`, `token list` and dry runs read it as it is; a writing open migrates it.
    ///
    /// The store's statements name their tables without a schema, and PostgreSQL looks a table up in
    /// `pg_temp` before the `search_path` (unless the path names `pg_temp` later): this checks that both names
    /// lead to the stand-ins, so no table of that name elsewhere in the path is read in their place.
    ///
    /// The stand-ins last as long as the session: if another process upgrades the store meanwhile, they hide
    /// its new `token_keys`, and a token moved to envelope encryption since reads as key version 0 without a
    /// data key, which fails to open (never opens as another token); old-format rows still open. Read-only
    /// sessions are short (a command); one that must see the upgrade opens again.
    /// - throws: ``StoreError/noTemporaryTables(path:found:known:)`` when the role may not create temporary
    ///   tables; ``StoreError/needsMigration(path:found:known:)`` when the `search_path` leads a name to
    ///   another table; ``PostgresError`` otherwise (for example on a hot standby, which takes no writes).
    static func emulateLaterTables(_ connection: PostgresConnection, from found: Int) throws {
        let missing = laterTables.filter { $0.version > found }
        let location = connection.location
        do {
            try connection.createTemporaryTables(
                missing.map { (name: $0.name, columns: $0.columns) },
                purpose: "stand in for the tables of later schema versions")
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw StoreError.noTemporaryTables(path: location, found: found, known: currentVersion)
        }
        let resolved = try connection.query(
            """
            SELECT count(*) FROM unnest($1::text[]) AS name
            WHERE to_regclass(name) = (SELECT c.oid FROM pg_class c WHERE c.relname = name AND c.relnamespace = pg_my_temp_schema())
            """, [.textArray(missing.map(\.name))], purpose: "find the stand-in tables")
        guard resolved.int(0, 0) == missing.count else {
            throw StoreError.needsMigration(path: location, found: found, known: currentVersion)
        }
    }
}

import PostgresClient

/// The tables of a ``PostgresVault`` as an ordered list of migrations, each recorded in
/// `vault_migrations` (not the store's `schema_migrations`, so a vault and a store may share a schema).
///
/// The tables are made in the first schema of the connection's `search_path`, so an operator can give the
/// vault a schema (`options=-csearch_path=vault`) or a database of its own, with a role of its own
/// (scripts/postgres/vault-role.sql). Every name starts with `vault_`. Times are unix milliseconds.
/// Migration N runs in one transaction with the row that records it, under a transaction-scoped advisory
/// lock. Never edit a released migration: add a new one.
enum PostgresVaultSchema {
    /// The advisory lock key initialization and migrations take: "tkvault" in ASCII.
    static let migrationLock: Int64 = 0x746b_7661_756c_7400

    /// Every table a vault has; `initialize` refuses a schema where any of them exists.
    static let tables = [
        "vault_migrations", "vault_meta", "vault_secrets", "vault_versions", "vault_policies", "vault_audit",
        "vault_state_mark",
    ]

    /// Every migration, in order; the vault's schema version is the highest recorded.
    static let migrations: [String] = [
        // 1: what the file vault keeps in its files, one row per item, each row with its MAC
        //    (PostgresVaultRowMAC). `last_version` is the highest version number a secret has given, so a
        //    purged number is never given again and a deleted latest version row is noticed.
        """
        CREATE TABLE vault_meta (
            singleton integer PRIMARY KEY CHECK (singleton = 1),
            format integer NOT NULL,
            created_at bigint NOT NULL,
            retention_days integer NOT NULL,
            master_key_id text NOT NULL,
            store_id text,
            store_held_tokens boolean,
            store_bound_at bigint,
            mac bytea NOT NULL
        );
        CREATE TABLE vault_secrets (
            name text COLLATE "C" PRIMARY KEY,
            created_at bigint NOT NULL,
            last_version integer NOT NULL,
            deleted_at bigint,
            purge_at bigint,
            mac bytea NOT NULL
        );
        CREATE TABLE vault_versions (
            secret text COLLATE "C" NOT NULL REFERENCES vault_secrets (name) ON DELETE CASCADE,
            version integer NOT NULL,
            created_at bigint NOT NULL,
            enabled boolean NOT NULL,
            master_key_id text NOT NULL,
            wrapped_key bytea NOT NULL,
            mac bytea NOT NULL,
            PRIMARY KEY (secret, version)
        );
        CREATE TABLE vault_policies (
            principal text COLLATE "C" PRIMARY KEY,
            permissions text NOT NULL,
            mac bytea NOT NULL
        );
        CREATE TABLE vault_audit (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at bigint NOT NULL,
            principal text NOT NULL,
            operation text NOT NULL,
            secret text,
            version integer,
            outcome text NOT NULL,
            mac bytea NOT NULL
        );
        """,
        // 2: the mark `state copy` leaves (``StateMark``), as `vault.json`'s `mark` in the file vault: at most
        //    one row, under its MAC like every other row (``VaultStateMarkRow``).
        """
        CREATE TABLE IF NOT EXISTS vault_state_mark (
            singleton integer PRIMARY KEY CHECK (singleton = 1),
            kind text NOT NULL,
            peer text NOT NULL,
            copy_id text NOT NULL,
            marked_at bigint NOT NULL,
            mac bytea NOT NULL
        );
        """,
    ]

    /// The schema version this build writes.
    static var currentVersion: Int { migrations.count }

    /// The vault tables that exist in the connection's `search_path`.
    static func existingTables(_ connection: PostgresConnection) throws -> [String] {
        let rows = try connection.query(
            "SELECT name FROM unnest($1::text[]) AS name WHERE to_regclass(name) IS NOT NULL ORDER BY name",
            [.textArray(tables)], purpose: "find the vault tables")
        return (0..<rows.count).map { rows.text($0, 0) }
    }

    /// Creates every table in an empty schema (within the caller's transaction, holding the lock).
    /// - throws: ``VaultError/tablesExist(location:tables:)`` when any vault table exists already.
    static func create(_ connection: PostgresConnection) throws {
        try lock(connection)
        let found = try existingTables(connection)
        guard found.isEmpty else { throw VaultError.tablesExist(location: connection.location, tables: found) }
        try connection.execute(
            "CREATE TABLE vault_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
            purpose: "create vault_migrations")
        try apply(connection, from: 1)
    }

    /// Checks the schema version and, unless the session is read-only, brings it up to ``currentVersion``.
    /// - throws: ``VaultError/notAVault(path:)`` without vault tables, ``VaultError/schemaMismatch(location:found:known:)``.
    static func migrate(_ connection: PostgresConnection) throws {
        try connection.transaction(purpose: "vault schema migration") {
            if !connection.isReadOnly { try lock(connection) }
            let found = try existingTables(connection)
            guard found.contains("vault_migrations"), found.contains("vault_meta") else {
                throw VaultError.notAVault(path: connection.location)
            }
            let version = Int(
                try connection.query(
                    "SELECT coalesce(max(version), 0) FROM vault_migrations", purpose: "read the vault schema version"
                ).int(0, 0))
            guard version != currentVersion else { return }
            // A read-only session reads an older schema as it is (a missing mark table reads as no mark).
            if connection.isReadOnly && version >= 1 && version < currentVersion { return }
            guard version < currentVersion, !connection.isReadOnly else {
                throw VaultError.schemaMismatch(location: connection.location, found: version, known: currentVersion)
            }
            try apply(connection, from: version + 1)
        }
    }

    private static func lock(_ connection: PostgresConnection) throws {
        try connection.query("SELECT pg_advisory_xact_lock($1)", [.int8(migrationLock)], purpose: "vault schema lock")
    }

    private static func apply(_ connection: PostgresConnection, from first: Int) throws {
        for version in first...currentVersion {
            try connection.execute(migrations[version - 1], purpose: "vault schema migration \(version)")
            try connection.query(
                "INSERT INTO vault_migrations (version) VALUES ($1)", [.int4(Int32(version))],
                purpose: "record vault schema migration \(version)")
        }
    }
}

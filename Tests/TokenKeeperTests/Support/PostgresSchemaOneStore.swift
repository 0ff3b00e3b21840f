import Foundation

@testable import PostgresClient
@testable import Store

/// A PostgreSQL store as a tokenkeeper before envelope encryption left it: schema 1 (migration 1 only,
/// no `token_keys`, no `state_mark`), every row sealed directly under a tenant key (the old format).
enum PostgresSchemaOneStore {
    /// Replaces the store in the database `connectionString` names (made by a current tokenkeeper, so the
    /// vault serves its identity) with a schema-1 store of the same identity holding `rows`: every table and
    /// function of the store is dropped, then migration 1 alone runs and is recorded, as tokenkeeper's first
    /// PostgreSQL release did. `rows` must be in the old format (no wrapped key).
    static func replace(connectionString: String, rows: [StoredToken]) throws {
        let session = try PostgresConnection(connectionString: connectionString, location: "test", readOnly: false)
        let identity = try session.query("SELECT id, created_at FROM store_identity", purpose: "test: identity")
        let (id, createdAt) = (identity.text(0, 0), identity.text(0, 1))
        try session.transaction(purpose: "test: schema 1") {
            try session.execute(
                """
                DROP TABLE state_mark, token_keys, tokens, key_version_rows, store_identity, schema_migrations;
                DROP FUNCTION tokens_count_key_versions(), token_keys_count_key_versions();
                CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
                """, purpose: "test: drop the store")
            try session.execute(PostgresSchema.migrations[0], purpose: "test: migration 1")
            try session.query("INSERT INTO schema_migrations (version) VALUES (1)", purpose: "test: record 1")
            try session.query(
                "UPDATE store_identity SET id = $1, created_at = $2", [.text(id), .text(createdAt)],
                purpose: "test: keep the identity")
            if !rows.isEmpty {
                try session.query(
                    PostgresTokenStore.batchInsert, PostgresTokenStore.batchValues(rows), purpose: "test: old rows")
            }
        }
    }

    /// The store's recorded schema version and which of the later migrations' tables exist, read on a
    /// session of its own: `(1, [])` for a store left at schema 1.
    static func schema(connectionString: String) throws -> (version: Int, laterTables: [String]) {
        let session = try PostgresConnection(connectionString: connectionString, location: "test", readOnly: true)
        let version = try session.query("SELECT max(version) FROM schema_migrations", purpose: "test: version")
        let tables = try session.query(
            "SELECT name FROM unnest(ARRAY['token_keys', 'state_mark']) AS name WHERE to_regclass(name) IS NOT NULL",
            purpose: "test: later tables")
        return (Int(version.int(0, 0)), (0..<tables.count).map { tables.text($0, 0) })
    }
}

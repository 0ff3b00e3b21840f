import Foundation
import PostgresClient

/// The `token_keys` table on PostgreSQL (schema migration 2): the wrapped data keys of rows in the
/// envelope format. Every write of a token writes its data key's row in the same transaction (or removes
/// it, when the token goes or is written in the old format; deleting a token row cascades), and the
/// table's statement triggers move the per-version counts (I1). A rotation reads and rewrites only it,
/// one set-based statement per batch.
extension PostgresTokenStore {
    /// Makes the data key rows of `tokens` (each found by its key, the last of a key winning) say what
    /// the tokens say: written for those in the envelope format that hold a token, removed for the rest.
    /// Call inside the transaction that wrote the tokens.
    func writeDataKeys(of tokens: [StoredToken]) throws {
        var last: [TokenKey: StoredToken] = [:]
        for token in tokens { last[token.key] = token }
        let sealed = last.values.filter { $0.sealedToken != nil && $0.wrappedKey != nil }.sorted { $0.key < $1.key }
        let plain = last.values.filter { $0.sealedToken == nil || $0.wrappedKey == nil }.map(\.key)
        if !plain.isEmpty {
            try connection.query(
                """
                DELETE FROM token_keys WHERE token_id IN (
                    SELECT t.id FROM tokens t JOIN unnest($1::text[], $2::text[], $3::text[]) AS b (tenant, user_id, provider)
                    ON t.tenant = b.tenant AND t.user_id = b.user_id AND t.provider = b.provider)
                """,
                [.textArray(plain.map(\.tenant)), .textArray(plain.map(\.user)), .textArray(plain.map(\.provider))],
                purpose: "remove data keys")
        }
        guard !sealed.isEmpty else { return }
        try connection.query(
            """
            INSERT INTO token_keys (token_id, tenant, user_id, provider, key_version, wrapped_key)
            SELECT t.id, t.tenant, t.user_id, t.provider, b.key_version, b.wrapped_key
            FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bytea[])
                AS b (tenant, user_id, provider, key_version, wrapped_key)
            JOIN tokens t ON t.tenant = b.tenant AND t.user_id = b.user_id AND t.provider = b.provider
            ORDER BY t.id
            ON CONFLICT (token_id) DO UPDATE SET key_version = EXCLUDED.key_version, wrapped_key = EXCLUDED.wrapped_key
            """,
            [
                .textArray(sealed.map(\.key.tenant)), .textArray(sealed.map(\.key.user)),
                .textArray(sealed.map(\.key.provider)), .int4Array(sealed.map { Int32(clamping: $0.keyVersion) }),
                .byteaArray(sealed.map { $0.wrappedKey! }),
            ], purpose: "write data keys")
    }

    /// Writes (or replaces) the data key row of the token row `id`, or removes it when `wrappedKey` is nil.
    /// Call inside the transaction that wrote the token.
    func writeDataKey(rowID id: Int64, key: TokenKey, version: Int, wrappedKey: [UInt8]?) throws {
        guard let wrappedKey else {
            try connection.query(
                "DELETE FROM token_keys WHERE token_id = $1", [.int8(id)], purpose: "remove a data key")
            return
        }
        try connection.query(
            """
            INSERT INTO token_keys (token_id, tenant, user_id, provider, key_version, wrapped_key)
            VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (token_id) DO UPDATE SET key_version = EXCLUDED.key_version, wrapped_key = EXCLUDED.wrapped_key
            """,
            [.int8(id)] + Self.values(key) + [.int4(Int32(clamping: version)), .bytea(wrappedKey)],
            purpose: "write a data key")
    }

    // MARK: - Rotation over the narrow table

    /// Calls `visit` for up to `limit` data key rows after `afterID` in id order and returns the last id
    /// visited. Reads only `token_keys`, never a token. (Here the server, not allocation, is what costs:
    /// each row's values are copied out of the result before `visit` sees them.)
    public func scanDataKeys(afterID: Int64, limit: Int, _ visit: (DataKeyRowView) throws -> Void) throws -> Int64? {
        let rows = try connection.query(
            """
            SELECT token_id, key_version, tenant, user_id, provider, wrapped_key FROM token_keys
            WHERE token_id > $1 ORDER BY token_id LIMIT $2
            """, [.int8(afterID), .int8(Int64(limit))], purpose: "read data keys to rewrap")
        var lastID: Int64?
        for index in 0..<rows.count {
            let id = rows.int(index, 0)
            lastID = id
            // The row's fields side by side in one buffer, handed to `visit` as slices of it.
            let fields = [
                Array(rows.text(index, 2).utf8), Array(rows.text(index, 3).utf8), Array(rows.text(index, 4).utf8),
                rows.bytes(index, 5) ?? [],
            ]
            let bounds = fields.reduce(into: [0]) { $0.append($0.last! + $1.count) }
            try Array(fields.joined()).withUnsafeBytes { bytes in
                let field = { (number: Int) in
                    UnsafeRawBufferPointer(rebasing: bytes[bounds[number]..<bounds[number + 1]])
                }
                try visit(
                    DataKeyRowView(
                        id: id, keyVersion: Int(rows.int(index, 1)), tenant: field(0), user: field(1),
                        provider: field(2), wrappedKey: field(3)))
            }
        }
        return lastID
    }

    /// One `UPDATE ... FROM unnest(...)` for rows `rows` of `batch`, compare-and-set per row on the version
    /// and the wrapped bytes read; the table's triggers move the counts. Says per row whether it applied.
    /// Each row is matched by its tenant as well as its id: the statement names the distribution column a
    /// distributed PostgreSQL would route by (README "Past one PostgreSQL"), and a row never moves to
    /// another tenant's version.
    public func replaceDataKeys(_ batch: DataKeyRewrapBatch, rows: Range<Int>) throws -> [Bool] {
        guard !rows.isEmpty else { return [] }
        let keys = { (buffer: [UInt8]) in
            buffer.withUnsafeBytes { bytes in rows.map { Array(DataKeyRewrapBatch.key($0, in: bytes)) } }
        }
        let result = try connection.query(
            """
            UPDATE token_keys SET key_version = batch.new_version, wrapped_key = batch.wrapped
            FROM unnest($1::bigint[], $2::integer[], $3::bytea[], $4::integer[], $5::bytea[], $6::text[])
                AS batch (id, expected, expected_wrapped, new_version, wrapped, tenant)
            WHERE token_keys.token_id = batch.id AND token_keys.tenant = batch.tenant
              AND token_keys.key_version = batch.expected AND token_keys.wrapped_key = batch.expected_wrapped
            RETURNING token_keys.token_id
            """,
            [
                .int8Array(Array(batch.ids[rows])), .int4Array(Array(batch.expectedVersions[rows])),
                .byteaArray(keys(batch.expectedKeys)), .int4Array(Array(batch.newVersions[rows])),
                .byteaArray(keys(batch.newKeys)), .textArray(rows.map { batch.tenants[Int(batch.tenantNumbers[$0])] }),
            ], purpose: "rewrap data keys")
        let changed = Set((0..<result.count).map { result.int($0, 0) })
        return rows.map { changed.contains(batch.ids[$0]) }
    }

    // MARK: - The migration from the old format

    /// Rows still in the old format that hold a token, per tenant, from their partial index alone.
    public func oldFormatCounts() throws -> [String: Int] {
        let rows = try connection.query(
            "SELECT tenant, count(*) FROM tokens WHERE key_version != 0 AND sealed_token IS NOT NULL GROUP BY tenant",
            purpose: "count tokens in the old format")
        var counts: [String: Int] = [:]
        for index in 0..<rows.count { counts[rows.text(index, 0)] = Int(rows.int(index, 1)) }
        return counts
    }

    /// Rows still in the old format that hold a token, per tenant and key version (``TokenStore/oldFormatCountsByVersion()``).
    public func oldFormatCountsByVersion() throws -> [String: [Int: Int]] {
        let rows = try connection.query(
            """
            SELECT tenant, key_version, count(*) FROM tokens WHERE key_version != 0 AND sealed_token IS NOT NULL
            GROUP BY tenant, key_version
            """, purpose: "count tokens in the old format")
        var counts: [String: [Int: Int]] = [:]
        for index in 0..<rows.count {
            counts[rows.text(index, 0), default: [:]][Int(rows.int(index, 1))] = Int(rows.int(index, 2))
        }
        return counts
    }

    /// Up to `limit` rows of `tenant` still in the old format that hold a token, after `afterID` in id order.
    public func oldFormatRows(tenant: String, afterID: Int64, limit: Int) throws -> [SealedRow] {
        let rows = try connection.query(
            """
            SELECT id, user_id, provider, secret_name, key_version, sealed_token FROM tokens
            WHERE tenant = $1 AND key_version != 0 AND sealed_token IS NOT NULL AND id > $2 ORDER BY id LIMIT $3
            """, [.text(tenant), .int8(afterID), .int8(Int64(limit))], purpose: "read tokens in the old format")
        return (0..<rows.count).map { index in
            SealedRow(
                id: rows.int(index, 0),
                key: TokenKey(tenant: tenant, user: rows.text(index, 1), provider: rows.text(index, 2)),
                secretName: rows.text(index, 3), keyVersion: Int(rows.int(index, 4)),
                sealedToken: rows.bytes(index, 5) ?? [])
        }
    }
}

import Foundation

/// The `token_keys` table: the wrapped data keys of rows in the envelope format (schema migration 5).
///
/// Every statement that writes a token writes its data key's row in the same transaction, or removes it
/// when the token goes or is written in the old format, so a row of `token_keys` exists exactly for the
/// envelope rows that hold a token. A rotation reads and rewrites only this table.
extension SQLiteTokenStore {
    /// Makes the data key row of the token row `rowID` say what `token` says: written when it is in the
    /// envelope format and holds a token, removed otherwise. Call inside the write transaction.
    /// - Parameter isNew: the row was inserted just now, so there is no data key row to remove.
    func writeDataKey(rowID: Int64, of token: StoredToken, isNew: Bool = false) throws {
        let wrapped = token.sealedToken == nil ? nil : token.wrappedKey
        if isNew && wrapped == nil { return }
        try writeDataKey(rowID: rowID, key: token.key, version: token.keyVersion, wrappedKey: wrapped)
    }

    /// Writes (or replaces) the data key row of the token row `rowID`, or removes it when `wrappedKey` is nil.
    /// Call inside the write transaction.
    func writeDataKey(rowID: Int64, key: TokenKey, version: Int, wrappedKey: [UInt8]?) throws {
        guard let wrappedKey else {
            let statement = try connection.cached("DELETE FROM token_keys WHERE token_id = ?1")
            statement.bind(1, rowID)
            try statement.run()
            return
        }
        let statement = try connection.cached(
            """
            INSERT OR REPLACE INTO token_keys (token_id, tenant, user_id, provider, key_version, wrapped_key)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6)
            """)
        statement.bind(1, rowID)
        statement.bind(2, key.tenant)
        statement.bind(3, key.user)
        statement.bind(4, key.provider)
        statement.bind(5, version)
        wrappedKey.withUnsafeBytes { statement.bind(6, bytes: $0) }
        try statement.run()
    }

    /// Removes the data key row of `key`'s row, if any. Call inside the write transaction.
    func deleteDataKey(of key: TokenKey) throws {
        let statement = try connection.cached(
            """
            DELETE FROM token_keys WHERE token_id = (SELECT id FROM tokens WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3)
            """)
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        try statement.run()
    }

    // MARK: - Rotation over the narrow table

    /// Calls `visit` for up to `limit` data key rows after `afterID` in id order, with the column bytes as
    /// SQLite holds them (no copy), and returns the last id visited. Reads only `token_keys`, never a token.
    public func scanDataKeys(afterID: Int64, limit: Int, _ visit: (DataKeyRowView) throws -> Void) throws -> Int64? {
        let statement = try connection.cached(
            """
            SELECT token_id, key_version, tenant, user_id, provider, wrapped_key FROM token_keys
            WHERE token_id > ?1 ORDER BY token_id LIMIT ?2
            """)
        defer { statement.reset() }
        statement.bind(1, afterID)
        statement.bind(2, limit)
        var lastID: Int64?
        while try statement.step() {
            let id = statement.int(0)
            lastID = id
            try visit(
                DataKeyRowView(
                    id: id, keyVersion: Int(statement.int(1)), tenant: statement.textBytes(2),
                    user: statement.textBytes(3), provider: statement.textBytes(4),
                    wrappedKey: statement.blobBytes(5)))
        }
        return lastID
    }

    /// Writes rows `rows` of `batch` in one transaction, compare-and-set per row on the version and the
    /// wrapped bytes read (a row refreshed, resealed or rewrapped meanwhile is left alone), moving the
    /// per-version counts once per tenant and version. The tokens table is not touched. The wrapped keys
    /// are bound straight from the batch's buffers (no copy per row).
    /// - Returns: per row of `rows`, whether it applied.
    public func replaceDataKeys(_ batch: DataKeyRewrapBatch, rows: Range<Int>) throws -> [Bool] {
        guard !rows.isEmpty else { return [] }
        return try connection.writeTransaction {
            let statement = try connection.cached(
                """
                UPDATE token_keys SET key_version = ?1, wrapped_key = ?2
                WHERE token_id = ?3 AND key_version = ?4 AND wrapped_key = ?5
                """)
            var changed: [Bool] = []
            changed.reserveCapacity(rows.count)
            var moves = DataKeyMoves()
            try batch.expectedKeys.withUnsafeBytes { expectedKeys in
                try batch.newKeys.withUnsafeBytes { newKeys in
                    for row in rows {
                        statement.bind(1, Int64(batch.newVersions[row]))
                        statement.bindUncopied(2, bytes: DataKeyRewrapBatch.key(row, in: newKeys))
                        statement.bind(3, batch.ids[row])
                        statement.bind(4, Int64(batch.expectedVersions[row]))
                        statement.bindUncopied(5, bytes: DataKeyRewrapBatch.key(row, in: expectedKeys))
                        try statement.run()
                        let didChange = statement.changes > 0
                        changed.append(didChange)
                        if didChange { moves.count(row, of: batch) }
                    }
                }
            }
            try apply(moves.changes(of: batch))
            return changed
        }
    }

    // MARK: - The migration from the old format

    /// Rows still in the old format that hold a token, per tenant (tenants without any are absent). Read
    /// from the partial index of such rows alone: nothing to read once the migration is done.
    public func oldFormatCounts() throws -> [String: Int] {
        let statement = try connection.cached(
            "SELECT tenant, count(*) FROM tokens WHERE key_version != 0 AND sealed_token IS NOT NULL GROUP BY tenant")
        defer { statement.reset() }
        var counts: [String: Int] = [:]
        while try statement.step() { counts[statement.text(0)] = Int(statement.int(1)) }
        return counts
    }

    /// Rows still in the old format that hold a token, per tenant and key version (``TokenStore/oldFormatCountsByVersion()``).
    public func oldFormatCountsByVersion() throws -> [String: [Int: Int]] {
        let statement = try connection.cached(
            """
            SELECT tenant, key_version, count(*) FROM tokens WHERE key_version != 0 AND sealed_token IS NOT NULL
            GROUP BY tenant, key_version
            """)
        defer { statement.reset() }
        var counts: [String: [Int: Int]] = [:]
        while try statement.step() {
            counts[statement.text(0), default: [:]][Int(statement.int(1))] = Int(statement.int(2))
        }
        return counts
    }

    /// Up to `limit` rows of `tenant` still in the old format that hold a token, after the row id
    /// `afterID` in id order, through the partial index of such rows (the migration's walk).
    public func oldFormatRows(tenant: String, afterID: Int64, limit: Int) throws -> [SealedRow] {
        let statement = try connection.cached(
            """
            SELECT id, user_id, provider, secret_name, key_version, sealed_token FROM tokens
            WHERE tenant = ?1 AND key_version != 0 AND sealed_token IS NOT NULL AND id > ?2 ORDER BY id LIMIT ?3
            """)
        defer { statement.reset() }
        statement.bind(1, tenant)
        statement.bind(2, afterID)
        statement.bind(3, limit)
        var rows: [SealedRow] = []
        while try statement.step() {
            rows.append(
                SealedRow(
                    id: statement.int(0),
                    key: TokenKey(tenant: tenant, user: statement.text(1), provider: statement.text(2)),
                    secretName: statement.text(3), keyVersion: Int(statement.int(4)),
                    sealedToken: statement.blob(5) ?? []))
        }
        return rows
    }

    /// A PASSIVE checkpoint: copies the log's frames that no reader still needs into the file, never
    /// waiting for or blocking another connection. Rotation runs it between batches, so the log stays
    /// small and the final ``makeDurable()`` has little left to copy.
    public func checkpoint() throws {
        let statement = try connection.cached("PRAGMA wal_checkpoint(PASSIVE)")
        defer { statement.reset() }
        _ = try statement.step()
    }
}

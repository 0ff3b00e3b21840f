extension SQLiteTokenStore {
    /// Inserts many new rows in one transaction (seeding a benchmark, bulk loads). Rows whose
    /// (tenant, user, provider) already exists make the whole batch fail with a constraint error.
    /// - Returns: how many rows were inserted.
    @discardableResult
    public func insertBatch(_ tokens: [StoredToken]) throws -> Int {
        guard !tokens.isEmpty else { return 0 }
        return try connection.writeTransaction {
            try requireUnmarked()
            let statement = try connection.cached(
                """
                INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
                    expires_at, status, failure_count, last_error_code, lease_owner, lease_until, updated_at)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
                """)
            var added = KeyVersionRowChanges()
            for token in tokens {
                bindAll(statement, token)
                try statement.run()
                try writeDataKey(rowID: connection.lastInsertRowID, of: token, isNew: true)
                added.move(tenant: token.key.tenant, from: nil, to: token.sealedToken == nil ? nil : token.keyVersion)
            }
            try apply(added)
            return tokens.count
        }
    }
}

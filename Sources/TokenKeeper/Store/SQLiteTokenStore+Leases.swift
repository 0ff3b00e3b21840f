import Foundation

/// Row leases: how a nightly job and a web request avoid redeeming the same refresh token at once
/// (I7). A lease is an owner id and an expiry on the row, taken and released with compare-and-set
/// updates, so it needs no lock beyond SQLite's own; a holder that dies simply lets it expire.
extension SQLiteTokenStore {
    /// Takes the lease on `key` for `owner` until `until`, if nobody else holds one at `now`.
    /// - Returns: whether the lease is now `owner`'s.
    public func acquireLease(_ key: TokenKey, owner: String, until: Date, now: Date = Date()) throws -> Bool {
        try connection.writeTransaction {
            let statement = try connection.cached("""
                UPDATE tokens SET lease_owner = ?4, lease_until = ?5
                WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3
                  AND (lease_owner IS NULL OR lease_owner = ?4 OR lease_until IS NULL OR lease_until < ?6)
                """)
            statement.bind(1, key.tenant)
            statement.bind(2, key.user)
            statement.bind(3, key.provider)
            statement.bind(4, owner)
            statement.bind(5, until)
            statement.bind(6, now)
            try statement.run()
            return statement.changes > 0
        }
    }

    /// Releases `owner`'s lease on `key`; does nothing if someone else holds it now.
    public func releaseLease(_ key: TokenKey, owner: String) throws {
        let statement = try connection.cached("""
            UPDATE tokens SET lease_owner = NULL, lease_until = NULL
            WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND lease_owner = ?4
            """)
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        statement.bind(4, owner)
        try statement.run()
    }

    /// Stores a refreshed token for a row whose lease `owner` still holds, clears the lease, resets
    /// the failure count and status, all in one transaction, and returns once that transaction is on
    /// disk, durable against a power cut too (I8: what the provider gave is committed before the token
    /// is used again, and before anything else goes on). Commits that wait at once share one sync
    /// (``WALGroupSync``).
    /// - Returns: false when the lease was lost (expired and taken by someone else): nothing is written.
    /// - throws: the store's errors, or ``FileSystemError`` when the sync fails (the row is committed then,
    ///   but may not survive a power cut).
    public func commitRefreshed(_ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
                                refreshedAt: Date, expiresAt: Date?) async throws -> Bool {
        guard try commitRefreshedTransaction(key, owner: owner, secretName: secretName, keyVersion: keyVersion,
                                             sealedToken: sealedToken, refreshedAt: refreshedAt, expiresAt: expiresAt) else { return false }
        try await syncCommits()
        return true
    }

    /// The transaction of ``commitRefreshed(_:owner:secretName:keyVersion:sealedToken:refreshedAt:expiresAt:)``
    /// without its sync, for a caller that must commit under a lock of its own: it must then await
    /// ``syncCommits()`` before the token (or the access token redeemed with it) goes anywhere.
    package func commitRefreshedTransaction(_ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
                                            refreshedAt: Date, expiresAt: Date?) throws -> Bool {
        try connection.writeTransaction {
            let previous = try sealedKeyVersion(of: key)
            let statement = try connection.cached("""
                UPDATE tokens SET secret_name = ?5, key_version = ?6, sealed_token = ?7, refreshed_at = ?8, expires_at = ?9,
                    status = 'active', failure_count = 0, last_error_code = NULL, lease_owner = NULL, lease_until = NULL, updated_at = ?8
                WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND lease_owner = ?4
                """)
            statement.bind(1, key.tenant)
            statement.bind(2, key.user)
            statement.bind(3, key.provider)
            statement.bind(4, owner)
            statement.bind(5, secretName)
            statement.bind(6, keyVersion)
            statement.bind(7, sealedToken)
            statement.bind(8, refreshedAt)
            statement.bind(9, expiresAt)
            try statement.run()
            guard statement.changes > 0 else { return false }
            try moveKeyVersionRow(tenant: key.tenant, from: previous, to: keyVersion)
            return true
        }
    }
}

extension SQLiteTokenStore {
    /// How many rows ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)`` would walk.
    public func countDueForRefresh(provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date) throws -> Int {
        let statement = try connection.cached("""
            SELECT count(*) FROM tokens
            WHERE id IN (
                SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND refreshed_at < ?2
                UNION
                SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND ?3 IS NOT NULL AND expires_at < ?3)
              AND sealed_token IS NOT NULL AND (lease_until IS NULL OR lease_until < ?4)
            """)
        defer { statement.reset() }
        statement.bind(1, provider)
        statement.bind(2, refreshedBefore)
        statement.bind(3, expiringBefore)
        statement.bind(4, now)
        return try statement.step() ? Int(statement.int(0)) : 0
    }
}

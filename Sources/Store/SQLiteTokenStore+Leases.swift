import Foundation

/// Row leases: how a nightly job and a web request avoid redeeming the same refresh token at once
/// (I7). A lease is an owner id and an expiry on the row, taken and released with compare-and-set
/// updates, so it needs no lock beyond SQLite's own; a holder that dies simply lets it expire.
extension SQLiteTokenStore {
    /// Takes the lease on `key` for `owner` until `until`, if nobody else holds one at `now`.
    /// - Returns: whether the lease is now `owner`'s.
    public func acquireLease(_ key: TokenKey, owner: String, until: Date, now: Date) throws -> Bool {
        try connection.writeTransaction {
            // Refused on a store being copied (or receiving a copy) before anything is redeemed.
            try requireUnmarked()
            let statement = try connection.cached(
                """
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
        let statement = try connection.cached(
            """
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
    /// the failure count and status, all in one transaction (I8: commit before the token is used again).
    /// The commit survives a crash of the process at once; await ``syncCommits()`` before the token (or
    /// the access token redeemed with it) goes anywhere, so it survives a power cut too.
    /// - Returns: false when the lease was lost (expired and taken by someone else): nothing is written.
    public func commitRefreshed(
        _ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
        wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try commitRefreshed(
            key, owner: owner, startedFrom: nil, secretName: secretName, keyVersion: keyVersion,
            sealedToken: sealedToken, wrappedKey: wrappedKey, refreshedAt: refreshedAt, expiresAt: expiresAt)
    }

    /// Stores a refreshed token for a row whose lease was lost, but only if the row still holds
    /// `startedFrom`, the sealed token the redemption began with (compare-and-set): nobody else has
    /// committed a newer token meanwhile. Clears the lease only if it is still `owner`'s; another
    /// holder's lease stays. One transaction.
    /// - Returns: whether the row held `startedFrom` and now holds the new token.
    public func commitRefreshed(
        _ key: TokenKey, replacing startedFrom: [UInt8], owner: String, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try commitRefreshed(
            key, owner: owner, startedFrom: startedFrom, secretName: secretName, keyVersion: keyVersion,
            sealedToken: sealedToken, wrappedKey: wrappedKey, refreshedAt: refreshedAt, expiresAt: expiresAt)
    }

    /// Both commits: the row changes while `owner` holds its lease, or (with `startedFrom`) while it still
    /// holds that sealed token; `owner`'s lease is cleared, anyone else's kept. The per-version counts
    /// move in the same transaction.
    private func commitRefreshed(
        _ key: TokenKey, owner: String, startedFrom: [UInt8]?, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try connection.writeTransaction {
            try requireCommitAllowed(key, owner: owner, afterLostLease: startedFrom != nil)
            let previous = try sealedKeyVersion(of: key)
            let statement = try connection.cached(
                """
                UPDATE tokens SET secret_name = ?5, key_version = ?6, sealed_token = ?7, refreshed_at = ?8, expires_at = ?9,
                    status = 'active', failure_count = 0, last_error_code = NULL, updated_at = ?8,
                    lease_until = CASE WHEN lease_owner = ?4 THEN NULL ELSE lease_until END,
                    lease_owner = CASE WHEN lease_owner = ?4 THEN NULL ELSE lease_owner END
                WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND (lease_owner = ?4 OR sealed_token = ?10)
                  AND (sealed_token IS NULL
                       OR coalesce((SELECT key_version FROM token_keys WHERE token_id = tokens.id), key_version) <= ?11)
                RETURNING id
                """)
            statement.bind(1, key.tenant)
            statement.bind(2, key.user)
            statement.bind(3, key.provider)
            statement.bind(4, owner)
            statement.bind(5, secretName)
            statement.bind(6, StoredToken.tokenColumnVersion(keyVersion, wrappedKey: wrappedKey, sealed: sealedToken))
            statement.bind(7, sealedToken)
            statement.bind(8, refreshedAt)
            statement.bind(9, expiresAt)
            statement.bind(10, startedFrom)
            statement.bind(11, keyVersion)
            guard try statement.step() else { return false }
            let id = statement.int(0)
            statement.reset()
            try writeDataKey(rowID: id, key: key, version: keyVersion, wrappedKey: wrappedKey)
            try moveKeyVersionRow(tenant: key.tenant, from: previous, to: keyVersion)
            return true
        }
    }
}

extension SQLiteTokenStore {
    /// The statement of ``countDueForRefresh(provider:refreshedBefore:expiringBefore:now:)``, planned by the tests.
    static let countDueForRefreshSQL = """
        SELECT count(*) FROM tokens
        WHERE id IN (
            SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND refreshed_at < ?2
            UNION
            SELECT id FROM tokens WHERE provider = ?1 AND status = 'active' AND ?3 IS NOT NULL AND expires_at < ?3)
          AND sealed_token IS NOT NULL AND (lease_until IS NULL OR lease_until < ?4)
        """

    /// How many rows ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)`` would walk.
    public func countDueForRefresh(provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date) throws
        -> Int
    {
        let statement = try connection.cached(Self.countDueForRefreshSQL)
        defer { statement.reset() }
        statement.bind(1, provider)
        statement.bind(2, refreshedBefore)
        statement.bind(3, expiringBefore)
        statement.bind(4, now)
        return try statement.step() ? Int(statement.int(0)) : 0
    }
}

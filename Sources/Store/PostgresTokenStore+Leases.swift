import Foundation
import PostgresClient

/// Leases (I7), the refresh commit (I8) and the rotation's rewrap on PostgreSQL. Each is one statement,
/// so one transaction with the counts its triggers move.
extension PostgresTokenStore {
    /// Takes the lease on `key` for `owner` if nobody else holds one. With the database clock the lease
    /// ends `until - now` after the database's `now()`, and "held" is judged by that clock. A row another
    /// session has locked this instant (taking it, committing it) is skipped (`SKIP LOCKED`): not taken.
    /// On a store `state copy` marked, refused with ``StateMarkError`` before anything is redeemed.
    public func acquireLease(_ key: TokenKey, owner: String, until: Date, now: Date) throws -> Bool {
        let taken =
            try connection.query(
                """
                UPDATE tokens SET lease_owner = $4, lease_until = \(self.now(6)) + ($5 - $6)
                WHERE id = (SELECT id FROM tokens WHERE tenant = $1 AND user_id = $2 AND provider = $3 FOR UPDATE SKIP LOCKED)
                  AND (lease_owner IS NULL OR lease_owner = $4 OR lease_until IS NULL OR lease_until < \(self.now(6)))
                  AND \(Self.unmarked)
                """, Self.values(key) + [.text(owner), .time(until), .time(now)], purpose: "take a lease"
            ).changes > 0
        if !taken { try requireUnmarked() }
        return taken
    }

    /// Releases `owner`'s lease on `key`; does nothing if someone else holds it.
    public func releaseLease(_ key: TokenKey, owner: String) throws {
        try connection.query(
            """
            UPDATE tokens SET lease_owner = NULL, lease_until = NULL
            WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND lease_owner = $4
            """, Self.values(key) + [.text(owner)], purpose: "release a lease")
    }

    /// Stores a refreshed token while `owner` holds the lease, clears lease and failures. Durable when it returns.
    public func commitRefreshed(
        _ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
        refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        // On a marked store only while the lease is still live: the copy waits for such a refresh.
        let committed =
            try connection.query(
                """
                UPDATE tokens SET secret_name = $5, key_version = $6, sealed_token = $7, refreshed_at = $8, expires_at = $9,
                    status = 'active', failure_count = 0, last_error_code = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $8
                WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND lease_owner = $4
                  AND (sealed_token IS NULL OR key_version <= $6)
                  AND (\(Self.unmarked) OR lease_until > floor(extract(epoch FROM now()) * 1000)::bigint)
                """,
                Self.values(key) + [
                    .text(owner), .text(secretName), .int4(Int32(clamping: keyVersion)), .bytea(sealedToken),
                    .time(refreshedAt), .time(expiresAt),
                ], purpose: "commit a refreshed token"
            ).changes > 0
        if !committed { try requireUnmarked() }
        return committed
    }

    /// Stores a refreshed token after the lease was lost, only over `startedFrom` (compare-and-set on the
    /// sealed token); clears the lease only if it is still `owner`'s.
    public func commitRefreshed(
        _ key: TokenKey, replacing startedFrom: [UInt8], owner: String, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        let committed =
            try connection.query(
                """
                UPDATE tokens SET secret_name = $5, key_version = $6, sealed_token = $7, refreshed_at = $8, expires_at = $9,
                    status = 'active', failure_count = 0, last_error_code = NULL, updated_at = $8,
                    lease_until = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_until END,
                    lease_owner = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_owner END
                WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND sealed_token = $10 AND key_version <= $6
                  AND \(Self.unmarked)
                """,
                Self.values(key) + [
                    .text(owner), .text(secretName), .int4(Int32(clamping: keyVersion)), .bytea(sealedToken),
                    .time(refreshedAt), .time(expiresAt), .bytea(startedFrom),
                ],
                purpose: "commit a refreshed token over the one it started from"
            ).changes > 0
        if !committed { try requireUnmarked() }
        return committed
    }

    // MARK: - Rewrap

    /// Writes a batch of rewrapped tokens in one set-based statement, compare-and-set per row.
    @discardableResult
    public func replaceSealedTokens(_ updates: [SealedTokenUpdate], now: Date) throws -> Int {
        guard !updates.isEmpty else { return 0 }
        return try applySealedTokenUpdates(updates, now: now).filter { $0 }.count
    }

    /// Several batches in one transaction: all commit or none.
    public func replacingSealedTokensInOneTransaction<T>(
        now: Date, _ body: (_ apply: ([SealedTokenUpdate]) throws -> [Bool]) throws -> T
    ) throws -> T {
        try connection.transaction(purpose: "rewrap tokens") { try body { try applySealedTokenUpdates($0, now: now) } }
    }

    /// One `UPDATE ... FROM unnest(...)` for the whole batch: a row changes only if it still holds a token
    /// on the version it was read with. Returns, per update, whether its row changed.
    private func applySealedTokenUpdates(_ updates: [SealedTokenUpdate], now: Date) throws -> [Bool] {
        guard !updates.isEmpty else { return [] }
        let rows = try connection.query(
            """
            UPDATE tokens SET key_version = batch.new_version, sealed_token = batch.sealed, updated_at = $5
            FROM unnest($1::bigint[], $2::integer[], $3::integer[], $4::bytea[]) AS batch (id, expected, new_version, sealed)
            WHERE tokens.id = batch.id AND tokens.key_version = batch.expected AND tokens.sealed_token IS NOT NULL
            RETURNING tokens.id
            """,
            [
                .int8Array(updates.map(\.id)), .int4Array(updates.map { Int32(clamping: $0.expectedKeyVersion) }),
                .int4Array(updates.map { Int32(clamping: $0.newKeyVersion) }), .byteaArray(updates.map(\.sealedToken)),
                .time(now),
            ],
            purpose: "rewrap tokens")
        let changed = Set((0..<rows.count).map { rows.int($0, 0) })
        return updates.map { changed.contains($0.id) }
    }
}

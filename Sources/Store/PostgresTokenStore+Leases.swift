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
        try connection.transaction(purpose: "take a lease") {
            // Through the mark gate first: a `frozen` mark either committed before this statement's snapshot
            // (and refuses the lease) or waits for this transaction (and the copy then sees the lease).
            try enterMarkGate()
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
        wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        // On a marked store only while the lease is still live: the copy waits for such a refresh.
        try connection.transaction(purpose: "commit a refreshed token") {
            try enterMarkGate()
            let rows = try connection.query(
                """
                UPDATE tokens SET secret_name = $5, key_version = $6, sealed_token = $7, refreshed_at = $8, expires_at = $9,
                    status = 'active', failure_count = 0, last_error_code = NULL, lease_owner = NULL, lease_until = NULL, updated_at = $8
                WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND lease_owner = $4
                  AND (sealed_token IS NULL OR \(Self.effectiveVersion) <= $10)
                  AND (\(Self.unmarked) OR lease_until > floor(extract(epoch FROM now()) * 1000)::bigint)
                RETURNING id
                """,
                Self.values(key) + [
                    .text(owner), .text(secretName),
                    .int4(
                        Int32(
                            clamping: StoredToken.tokenColumnVersion(
                                keyVersion, wrappedKey: wrappedKey, sealed: sealedToken))),
                    .bytea(sealedToken), .time(refreshedAt), .time(expiresAt), .int4(Int32(clamping: keyVersion)),
                ], purpose: "commit a refreshed token")
            guard rows.count > 0 else {
                try requireUnmarked()
                return false
            }
            try writeDataKey(rowID: rows.int(0, 0), key: key, version: keyVersion, wrappedKey: wrappedKey)
            return true
        }
    }

    /// A token row's key version in SQL: its data key's (envelope format) or its own (old format).
    static let effectiveVersion =
        "coalesce((SELECT k.key_version FROM token_keys k WHERE k.token_id = tokens.id), tokens.key_version)"

    /// Stores a refreshed token after the lease was lost, only over `startedFrom` (compare-and-set on the
    /// sealed token); clears the lease only if it is still `owner`'s.
    public func commitRefreshed(
        _ key: TokenKey, replacing startedFrom: [UInt8], owner: String, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try connection.transaction(purpose: "commit a refreshed token over the one it started from") {
            try enterMarkGate()
            let rows = try connection.query(
                """
                UPDATE tokens SET secret_name = $5, key_version = $6, sealed_token = $7, refreshed_at = $8, expires_at = $9,
                    status = 'active', failure_count = 0, last_error_code = NULL, updated_at = $8,
                    lease_until = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_until END,
                    lease_owner = CASE WHEN lease_owner = $4 THEN NULL ELSE lease_owner END
                WHERE tenant = $1 AND user_id = $2 AND provider = $3 AND sealed_token = $10 AND \(Self.effectiveVersion) <= $11
                  AND \(Self.unmarked)
                RETURNING id
                """,
                Self.values(key) + [
                    .text(owner), .text(secretName),
                    .int4(
                        Int32(
                            clamping: StoredToken.tokenColumnVersion(
                                keyVersion, wrappedKey: wrappedKey, sealed: sealedToken))),
                    .bytea(sealedToken), .time(refreshedAt), .time(expiresAt), .bytea(startedFrom),
                    .int4(Int32(clamping: keyVersion)),
                ],
                purpose: "commit a refreshed token over the one it started from")
            guard rows.count > 0 else {
                try requireUnmarked()
                return false
            }
            try writeDataKey(rowID: rows.int(0, 0), key: key, version: keyVersion, wrappedKey: wrappedKey)
            return true
        }
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

    /// One statement for the whole batch: an `UPDATE ... FROM unnest(...)` of the tokens, compare-and-set
    /// per row on the version and wrapped key read (an empty wrapped key in the arrays stands for none: the
    /// old format), and, in the same statement, the changed rows' data keys written or removed. Returns, per
    /// update, whether its row changed.
    private func applySealedTokenUpdates(_ updates: [SealedTokenUpdate], now: Date) throws -> [Bool] {
        guard !updates.isEmpty else { return [] }
        let rows = try connection.query(
            """
            WITH changed AS (
                UPDATE tokens SET key_version = CASE WHEN length(batch.wrapped) = 0 THEN batch.new_version ELSE 0 END,
                    sealed_token = batch.sealed, updated_at = $7
                FROM unnest($1::bigint[], $2::integer[], $3::bytea[], $4::integer[], $5::bytea[], $6::bytea[])
                    AS batch (id, expected, expected_wrapped, new_version, sealed, wrapped)
                WHERE tokens.id = batch.id AND tokens.sealed_token IS NOT NULL
                  AND CASE WHEN length(batch.expected_wrapped) = 0 THEN tokens.key_version = batch.expected AND batch.expected != 0
                      ELSE tokens.key_version = 0 AND EXISTS (SELECT 1 FROM token_keys k WHERE k.token_id = tokens.id
                          AND k.key_version = batch.expected AND k.wrapped_key = batch.expected_wrapped) END
                RETURNING tokens.id, tokens.tenant, tokens.user_id, tokens.provider, batch.new_version, batch.wrapped
            ), keyed AS (
                INSERT INTO token_keys (token_id, tenant, user_id, provider, key_version, wrapped_key)
                SELECT id, tenant, user_id, provider, new_version, wrapped FROM changed WHERE length(wrapped) > 0
                ORDER BY id
                ON CONFLICT (token_id) DO UPDATE SET key_version = EXCLUDED.key_version, wrapped_key = EXCLUDED.wrapped_key
            ), unkeyed AS (
                DELETE FROM token_keys WHERE token_id IN (SELECT id FROM changed WHERE length(wrapped) = 0)
            )
            SELECT id FROM changed
            """,
            [
                .int8Array(updates.map(\.id)), .int4Array(updates.map { Int32(clamping: $0.expectedKeyVersion) }),
                .byteaArray(updates.map { $0.expectedWrappedKey ?? [] }),
                .int4Array(updates.map { Int32(clamping: $0.newKeyVersion) }), .byteaArray(updates.map(\.sealedToken)),
                .byteaArray(updates.map { $0.wrappedKey ?? [] }), .time(now),
            ],
            purpose: "reseal tokens")
        let changed = Set((0..<rows.count).map { rows.int($0, 0) })
        return updates.map { changed.contains($0.id) }
    }
}

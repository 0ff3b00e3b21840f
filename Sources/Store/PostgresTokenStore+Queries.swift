import Foundation
import PostgresClient

/// The PostgreSQL store's reads: listings, counts, the refresh stage's due rows and the rotation's walks.
extension PostgresTokenStore {
    /// Every distinct tenant with rows, sorted.
    public func tenants() throws -> [String] {
        let rows = try connection.query("SELECT DISTINCT tenant FROM tokens ORDER BY tenant", purpose: "list tenants")
        return (0..<rows.count).map { rows.text($0, 0) }
    }

    /// Every row of a tenant, with or without a token.
    public func count(tenant: String) throws -> Int {
        Int(
            try connection.query(
                "SELECT count(*) FROM tokens WHERE tenant = $1", [.text(tenant)], purpose: "count a tenant's rows"
            ).int(0, 0))
    }

    /// How many rows the store holds.
    public func count() throws -> Int {
        Int(try connection.query("SELECT count(*) FROM tokens", purpose: "count rows").int(0, 0))
    }

    /// Whether any row holds a token.
    public func holdsTokens() throws -> Bool {
        try connection.query(
            "SELECT EXISTS (SELECT 1 FROM key_version_rows WHERE rows > 0)", purpose: "look for tokens"
        ).int(0, 0) != 0
    }

    /// Rows of `tenant` holding a token sealed with the secret `secret`.
    public func tokenCount(tenant: String, secret: String) throws -> Int {
        Int(
            try connection.query(
                "SELECT count(*) FROM tokens WHERE tenant = $1 AND secret_name = $2 AND sealed_token IS NOT NULL",
                [.text(tenant), .text(secret)], purpose: "count a secret's tokens"
            ).int(0, 0))
    }

    /// Every tenant with rows that hold a token, sorted.
    public func tenantsHoldingTokens() throws -> [String] {
        let rows = try connection.query(
            "SELECT DISTINCT tenant FROM key_version_rows WHERE rows > 0 ORDER BY tenant",
            purpose: "list tenants holding tokens")
        return (0..<rows.count).map { rows.text($0, 0) }
    }

    /// Rows of a tenant per status.
    public func statusCounts(tenant: String) throws -> [TokenStatus: Int] {
        let rows = try connection.query(
            "SELECT status, count(*) FROM tokens WHERE tenant = $1 GROUP BY status", [.text(tenant)],
            purpose: "count statuses")
        var counts: [TokenStatus: Int] = [:]
        for index in 0..<rows.count {
            if let status = TokenStatus(rawValue: rows.text(index, 0)) { counts[status] = Int(rows.int(index, 1)) }
        }
        return counts
    }

    /// The oldest refresh time among a tenant's rows that still hold a token.
    public func oldestRefresh(tenant: String) throws -> Date? {
        try connection.query(
            "SELECT min(refreshed_at) FROM tokens WHERE tenant = $1 AND sealed_token IS NOT NULL", [.text(tenant)],
            purpose: "find the oldest refresh"
        ).date(0, 0)
    }

    /// Rows of a tenant that hold a token, per key version.
    public func keyVersionCounts(tenant: String) throws -> [Int: Int] {
        let rows = try connection.query(
            "SELECT key_version, rows FROM key_version_rows WHERE tenant = $1 AND rows > 0", [.text(tenant)],
            purpose: "count key versions")
        var counts: [Int: Int] = [:]
        for index in 0..<rows.count { counts[Int(rows.int(index, 0))] = Int(rows.int(index, 1)) }
        return counts
    }

    /// Every tenant's counts of `tenants` in one query (rotation plans from them: a round trip per tenant
    /// cost the planning of 100 tenants about half a second).
    public func keyVersionCounts(tenants: [String]) throws -> [String: [Int: Int]] {
        guard !tenants.isEmpty else { return [:] }
        let rows = try connection.query(
            "SELECT tenant, key_version, rows FROM key_version_rows WHERE tenant = ANY($1::text[]) AND rows > 0",
            [.textArray(tenants)], purpose: "count key versions")
        var counts: [String: [Int: Int]] = [:]
        for index in 0..<rows.count {
            counts[rows.text(index, 0), default: [:]][Int(rows.int(index, 1))] = Int(rows.int(index, 2))
        }
        return counts
    }

    /// Streams rows matching the filters in key order, a page of 500 at a time (keyset on the key), so
    /// memory stays at one page whatever the store's size.
    public func forEach(
        tenant: String?, user: String?, provider: String?, status: TokenStatus?,
        _ body: (StoredToken) throws -> Bool
    ) throws {
        var after: (String, String, String)?
        let pageSize = 500
        while true {
            let rows = try connection.query(
                """
                SELECT \(Self.columns) FROM tokens
                WHERE ($1::text IS NULL OR tenant = $1) AND ($2::text IS NULL OR user_id = $2) AND ($3::text IS NULL OR provider = $3)
                  AND ($4::text IS NULL OR status = $4)
                  AND ($5::boolean IS NULL OR (tenant, user_id, provider) > ($6, $7, $8))
                ORDER BY tenant, user_id, provider LIMIT $9
                """,
                [
                    .text(tenant), .text(user), .text(provider), .text(status?.rawValue),
                    after == nil ? .null(oid: PostgresValue.Oid.bool) : .bool(true), .text(after?.0), .text(after?.1),
                    .text(after?.2), .int8(Int64(pageSize)),
                ],
                purpose: "list tokens")
            for index in 0..<rows.count {
                guard try body(Self.row(rows, index)) else { return }
            }
            guard rows.count == pageSize else { return }
            let last = Self.row(rows, rows.count - 1).key
            after = (last.tenant, last.user, last.provider)
        }
    }

    /// The condition of a due row, with $1 provider, $2 refreshed before, $3 expiring before, $4 the
    /// caller's now: the cutoffs are moved by the difference between the store's clock and the caller's.
    private var dueCondition: String {
        """
        provider = $1 AND status = 'active' AND sealed_token IS NOT NULL
          AND (refreshed_at < $2 + (\(now(4)) - $4) OR ($3::bigint IS NOT NULL AND expires_at < $3 + (\(now(4)) - $4)))
          AND (lease_until IS NULL OR lease_until < \(now(4)))
        """
    }

    /// Up to `limit` active, unleased rows of `provider` holding a token that are due for refresh, after
    /// `afterID` in id order. A read-write session reads them `FOR UPDATE SKIP LOCKED`, so a row another
    /// session is taking (leasing, committing) right now is passed over rather than waited for or given twice.
    public func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int
    ) throws -> [StoredToken] {
        let rows = try connection.query(
            """
            SELECT \(Self.columns) FROM tokens WHERE \(dueCondition) AND id > $5
            ORDER BY id LIMIT $6\(isReadOnly ? "" : " FOR UPDATE SKIP LOCKED")
            """,
            [
                .text(provider), .time(refreshedBefore), .time(expiringBefore), .time(now), .int8(afterID),
                .int8(Int64(limit)),
            ],
            purpose: "find tokens due for refresh")
        return (0..<rows.count).map { Self.row(rows, $0) }
    }

    /// The due rows of one shard: ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)``
    /// with the tenant hash judged in the statement (``shardCondition(tenant:count:index:)``), so a shard never
    /// reads, or locks, another shard's due rows.
    public func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int, shard: StoreShard
    ) throws -> [StoredToken] {
        guard !shard.isWhole else {
            return try rowsDueForRefresh(
                provider: provider, refreshedBefore: refreshedBefore, expiringBefore: expiringBefore, now: now,
                afterID: afterID, limit: limit)
        }
        let rows = try connection.query(
            """
            SELECT \(Self.columns) FROM tokens WHERE \(dueCondition) AND id > $5
              AND \(Self.shardCondition(tenant: "tenant", count: "$7", index: "$8"))
            ORDER BY id LIMIT $6\(isReadOnly ? "" : " FOR UPDATE SKIP LOCKED")
            """,
            [
                .text(provider), .time(refreshedBefore), .time(expiringBefore), .time(now), .int8(afterID),
                .int8(Int64(limit)), .int8(Int64(shard.count)), .int8(Int64(shard.index)),
            ],
            purpose: "find a shard's tokens due for refresh")
        return (0..<rows.count).map { Self.row(rows, $0) }
    }

    /// Whether the tenant in column `tenant` is in shard `index` of `count` (SQL expressions of type bigint):
    /// the first 8 bytes of SHA-256 of its UTF-8 bytes, as PostgreSQL's signed bigint, made unsigned (plus
    /// 2^64 modulo 2^64, in numeric), modulo the count, is index - 1: `TenantShard`'s rule.
    static func shardCondition(tenant: String, count: String, index: String) -> String {
        """
        mod(mod(('x' || encode(substring(sha256(convert_to(\(tenant), 'UTF8')) FROM 1 FOR 8), 'hex'))::bit(64)::bigint::numeric
          + 18446744073709551616, 18446744073709551616), \(count)) = \(index) - 1
        """
    }

    /// How many rows ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)`` would walk.
    public func countDueForRefresh(provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date) throws
        -> Int
    {
        Int(
            try connection.query(
                "SELECT count(*) FROM tokens WHERE \(dueCondition)",
                [.text(provider), .time(refreshedBefore), .time(expiringBefore), .time(now)],
                purpose: "count tokens due for refresh"
            ).int(0, 0))
    }

    /// Up to `limit` rows of `tenant` holding a token sealed with a version other than `target`, after
    /// (user, provider) `after`, in that order.
    public func sealedRows(tenant: String, notOn target: Int, after: (user: String, provider: String), limit: Int)
        throws -> [SealedRow]
    {
        let rows = try connection.query(
            """
            SELECT id, user_id, provider, secret_name, \(Self.effectiveVersion), sealed_token,
                (SELECT k.wrapped_key FROM token_keys k WHERE k.token_id = tokens.id) FROM tokens
            WHERE tenant = $1 AND (user_id, provider) > ($2, $3) AND \(Self.effectiveVersion) != $4 AND sealed_token IS NOT NULL
            ORDER BY user_id, provider LIMIT $5
            """,
            [
                .text(tenant), .text(after.user), .text(after.provider), .int4(Int32(clamping: target)),
                .int8(Int64(limit)),
            ],
            purpose: "read a tenant's tokens to rewrap")
        return (0..<rows.count).map { index in
            SealedRow(
                id: rows.int(index, 0),
                key: TokenKey(tenant: tenant, user: rows.text(index, 1), provider: rows.text(index, 2)),
                secretName: rows.text(index, 3), keyVersion: Int(rows.int(index, 4)),
                sealedToken: rows.bytes(index, 5) ?? [], wrappedKey: rows.bytes(index, 6))
        }
    }

    /// Up to `scanLimit` rows after `afterID` in id order that `wanted(tenant, keyVersion)` selects and that
    /// hold a token, and the last id looked at (nil at the end).
    public func sealedRows(afterID: Int64, scanLimit: Int, where wanted: (String, Int) -> Bool) throws -> (
        rows: [SealedRow], lastID: Int64?
    ) {
        let rows = try connection.query(
            """
            SELECT id, tenant, \(Self.effectiveVersion), user_id, provider, secret_name, sealed_token,
                (SELECT k.wrapped_key FROM token_keys k WHERE k.token_id = tokens.id) FROM tokens
            WHERE id > $1 AND sealed_token IS NOT NULL ORDER BY id LIMIT $2
            """, [.int8(afterID), .int8(Int64(scanLimit))], purpose: "read tokens to rewrap")
        var selected: [SealedRow] = []
        var lastID: Int64?
        for index in 0..<rows.count {
            let id = rows.int(index, 0)
            lastID = id
            let tenant = rows.text(index, 1), version = Int(rows.int(index, 2))
            guard wanted(tenant, version) else { continue }
            selected.append(
                SealedRow(
                    id: id, key: TokenKey(tenant: tenant, user: rows.text(index, 3), provider: rows.text(index, 4)),
                    secretName: rows.text(index, 5), keyVersion: version, sealedToken: rows.bytes(index, 6) ?? [],
                    wrappedKey: rows.bytes(index, 7)))
        }
        return (selected, lastID)
    }
}

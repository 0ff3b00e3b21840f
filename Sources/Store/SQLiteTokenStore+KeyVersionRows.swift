import Foundation

/// The `key_version_rows` counts: per tenant and key version, how many rows hold a token sealed with it.
///
/// Rows in both formats count, under the version that seals them (old format) or wraps their data key
/// (envelope). Rotation plans from them (which tenants have tokens on older versions, how many) and never disables
/// or purges a version whose count is above zero (I1). They replace an index on (tenant, key_version)
/// that a rotation had to move for every row. Every statement that inserts or deletes a row, or changes
/// a row's key version or whether it holds a token, adjusts them in the same transaction; nothing else
/// writes the `tokens` table.
extension SQLiteTokenStore {
    /// Rows of a tenant that hold a token, per key version (versions without such rows are absent).
    public func keyVersionCounts(tenant: String) throws -> [Int: Int] {
        let statement = try connection.cached(
            "SELECT key_version, rows FROM key_version_rows WHERE tenant = ? AND rows > 0")
        defer { statement.reset() }
        statement.bind(1, tenant)
        var counts: [Int: Int] = [:]
        while try statement.step() { counts[Int(statement.int(0))] = Int(statement.int(1)) }
        return counts
    }

    /// Every tenant with rows that hold a token, sorted: rotation covers them even when their secret is
    /// missing from the vault, so such a tenant is reported instead of passed over.
    public func tenantsHoldingTokens() throws -> [String] {
        let statement = try connection.cached(
            "SELECT DISTINCT tenant FROM key_version_rows WHERE rows > 0 ORDER BY tenant")
        defer { statement.reset() }
        var tenants: [String] = []
        while try statement.step() { tenants.append(statement.text(0)) }
        return tenants
    }

    /// The counts recomputed from the rows themselves, a full scan: for checking that the kept counts
    /// agree (tests, diagnostics), never on a hot path.
    package func recountedKeyVersionRows() throws -> [String: [Int: Int]] {
        try countsByTenant(
            """
            SELECT t.tenant, coalesce(k.key_version, t.key_version) AS version, count(*) FROM \(Self.joined)
            WHERE t.sealed_token IS NOT NULL GROUP BY t.tenant, version
            """)
    }

    /// Every kept count above zero, per tenant: what ``recountedKeyVersionRows()`` must equal.
    package func keptKeyVersionRows() throws -> [String: [Int: Int]] {
        try countsByTenant("SELECT tenant, key_version, rows FROM key_version_rows WHERE rows != 0")
    }

    /// Rows of (tenant, version, count) as counts per tenant.
    private func countsByTenant(_ sql: String) throws -> [String: [Int: Int]] {
        let statement = try connection.cached(sql)
        defer { statement.reset() }
        var counts: [String: [Int: Int]] = [:]
        while try statement.step() {
            counts[statement.text(0), default: [:]][Int(statement.int(1))] = Int(statement.int(2))
        }
        return counts
    }

    /// The id of `key`'s row (nil when there is none) and the version its token is sealed with when it holds
    /// one (nil without a token): what an insert-or-replace moves the counts from, without reading the token.
    /// Read inside the write transaction that changes the row, so the count moves from the right version.
    func sealedState(of key: TokenKey) throws -> (id: Int64?, version: Int?) {
        let statement = try connection.cached(
            """
            SELECT t.id, coalesce(k.key_version, t.key_version), t.sealed_token IS NOT NULL FROM \(Self.joined)
            WHERE t.tenant = ?1 AND t.user_id = ?2 AND t.provider = ?3
            """)
        defer { statement.reset() }
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        guard try statement.step() else { return (nil, nil) }
        return (statement.int(0), statement.int(2) != 0 ? Int(statement.int(1)) : nil)
    }

    /// The key version the token in `key`'s row is sealed with; nil when there is no row or it holds no token.
    /// Read inside the write transaction that changes the row, so the count moves from the right version.
    func sealedKeyVersion(of key: TokenKey) throws -> Int? {
        let statement = try connection.cached(
            """
            SELECT coalesce(k.key_version, t.key_version) FROM \(Self.joined)
            WHERE t.tenant = ?1 AND t.user_id = ?2 AND t.provider = ?3 AND t.sealed_token IS NOT NULL
            """)
        defer { statement.reset() }
        statement.bind(1, key.tenant)
        statement.bind(2, key.user)
        statement.bind(3, key.provider)
        return try statement.step() ? Int(statement.int(0)) : nil
    }

    /// Moves one row's count from the version it was sealed with to the one it is sealed with now
    /// (nil: no row, or no token). Call inside the write transaction that changed the row.
    func moveKeyVersionRow(tenant: String, from old: Int?, to new: Int?) throws {
        var changes = KeyVersionRowChanges()
        changes.move(tenant: tenant, from: old, to: new)
        try apply(changes)
    }

    /// Writes the summed changes of many rows, once per tenant and version. Call inside the write
    /// transaction that changed the rows.
    func apply(_ changes: KeyVersionRowChanges) throws {
        for (entry, delta) in changes.deltas {
            try adjustKeyVersionRows(tenant: entry.tenant, version: entry.version, by: delta)
        }
    }

    /// Adds `delta` to the count of `tenant`'s rows on `version` (removing a count that reaches zero).
    /// Call inside the write transaction that changed the rows.
    private func adjustKeyVersionRows(tenant: String, version: Int, by delta: Int) throws {
        guard delta != 0 else { return }
        let statement = try connection.cached(
            """
            INSERT INTO key_version_rows (tenant, key_version, rows) VALUES (?1, ?2, ?3)
            ON CONFLICT (tenant, key_version) DO UPDATE SET rows = rows + ?3
            """)
        statement.bind(1, tenant)
        statement.bind(2, version)
        statement.bind(3, delta)
        try statement.run()
        if delta < 0 {
            let cleanup = try connection.cached(
                "DELETE FROM key_version_rows WHERE tenant = ?1 AND key_version = ?2 AND rows = 0")
            cleanup.bind(1, tenant)
            cleanup.bind(2, version)
            try cleanup.run()
        }
    }
}

/// Changes to the `key_version_rows` counts summed over the rows a statement or batch touched, so the
/// counts table is written once per tenant and version rather than once per row.
struct KeyVersionRowChanges {
    /// A tenant and one of its key versions: the key of a count.
    struct TenantVersion: Hashable {
        var tenant: String
        var version: Int
    }

    /// The net change per tenant and version (zero entries are left out when applied).
    private(set) var deltas: [TenantVersion: Int] = [:]

    /// One row of `tenant` moved from holding a token sealed with `old` to one sealed with `new`
    /// (nil: no row, or no token).
    mutating func move(tenant: String, from old: Int?, to new: Int?, rows: Int = 1) {
        guard old != new else { return }
        if let old { deltas[TenantVersion(tenant: tenant, version: old), default: 0] -= rows }
        if let new { deltas[TenantVersion(tenant: tenant, version: new), default: 0] += rows }
    }
}

/// The rows of a ``DataKeyRewrapBatch`` that applied, tallied per tenant number and versions (cheap
/// integer keys, no tenant name hashed per row), then turned into ``KeyVersionRowChanges`` once.
struct DataKeyMoves {
    private struct Move: Hashable {
        var tenant: Int32
        var from: Int32
        var to: Int32
    }
    private var rows: [Move: Int] = [:]

    /// Row `row` of `batch` applied.
    mutating func count(_ row: Int, of batch: DataKeyRewrapBatch) {
        rows[
            Move(tenant: batch.tenantNumbers[row], from: batch.expectedVersions[row], to: batch.newVersions[row]),
            default: 0] += 1
    }

    /// The per-version count changes of the rows counted.
    func changes(of batch: DataKeyRewrapBatch) -> KeyVersionRowChanges {
        var changes = KeyVersionRowChanges()
        for (move, count) in rows {
            changes.move(tenant: batch.tenants[Int(move.tenant)], from: Int(move.from), to: Int(move.to), rows: count)
        }
        return changes
    }
}

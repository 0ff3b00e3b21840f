import Foundation

/// The `key_version_rows` counts: per tenant and key version, how many rows hold a token sealed with it.
///
/// Rotation plans from them (which tenants have tokens on older versions, how many) and never disables
/// or purges a version whose count is above zero (I1). They replace an index on (tenant, key_version)
/// that a rotation had to move for every row. Every statement that inserts or deletes a row, or changes
/// a row's key version or whether it holds a token, adjusts them in the same transaction; nothing else
/// writes the `tokens` table.
/// A tenant and one of its key versions: the key of a `key_version_rows` count.
struct TenantVersion: Hashable {
    var tenant: String
    var version: Int
}

extension SQLiteTokenStore {
    /// Rows of a tenant that hold a token, per key version (versions without such rows are absent).
    public func keyVersionCounts(tenant: String) throws -> [Int: Int] {
        let statement = try connection.cached("SELECT key_version, rows FROM key_version_rows WHERE tenant = ? AND rows > 0")
        defer { statement.reset() }
        statement.bind(1, tenant)
        var counts: [Int: Int] = [:]
        while try statement.step() { counts[Int(statement.int(0))] = Int(statement.int(1)) }
        return counts
    }

    /// The key versions that some row of the tenant still uses. Rotation never purges one of these (I1).
    public func referencedVersions(tenant: String) throws -> Set<Int> { Set(try keyVersionCounts(tenant: tenant).keys) }

    /// The counts recomputed from the rows themselves, a full scan: for checking that the kept counts
    /// agree (tests, diagnostics), never on a hot path.
    package func recountedKeyVersionRows() throws -> [String: [Int: Int]] {
        let statement = try connection.cached("""
            SELECT tenant, key_version, count(*) FROM tokens WHERE sealed_token IS NOT NULL GROUP BY tenant, key_version
            """)
        defer { statement.reset() }
        var counts: [String: [Int: Int]] = [:]
        while try statement.step() { counts[statement.text(0), default: [:]][Int(statement.int(1))] = Int(statement.int(2)) }
        return counts
    }

    /// Every kept count above zero, per tenant: what ``recountedKeyVersionRows()`` must equal.
    package func keptKeyVersionRows() throws -> [String: [Int: Int]] {
        let statement = try connection.cached("SELECT tenant, key_version, rows FROM key_version_rows WHERE rows != 0")
        defer { statement.reset() }
        var counts: [String: [Int: Int]] = [:]
        while try statement.step() { counts[statement.text(0), default: [:]][Int(statement.int(1))] = Int(statement.int(2)) }
        return counts
    }

    /// The key version the token in `key`'s row is sealed with; nil when there is no row or it holds no token.
    /// Read inside the write transaction that changes the row, so the count moves from the right version.
    func sealedKeyVersion(of key: TokenKey) throws -> Int? {
        let statement = try connection.cached("""
            SELECT key_version FROM tokens WHERE tenant = ?1 AND user_id = ?2 AND provider = ?3 AND sealed_token IS NOT NULL
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
        guard old != new else { return }
        if let old { try adjustKeyVersionRows(tenant: tenant, version: old, by: -1) }
        if let new { try adjustKeyVersionRows(tenant: tenant, version: new, by: 1) }
    }

    /// Adds `delta` to the count of `tenant`'s rows on `version` (removing a count that reaches zero).
    /// Call inside the write transaction that changed the rows.
    func adjustKeyVersionRows(tenant: String, version: Int, by delta: Int) throws {
        guard delta != 0 else { return }
        let statement = try connection.cached("""
            INSERT INTO key_version_rows (tenant, key_version, rows) VALUES (?1, ?2, ?3)
            ON CONFLICT (tenant, key_version) DO UPDATE SET rows = rows + ?3
            """)
        statement.bind(1, tenant)
        statement.bind(2, version)
        statement.bind(3, delta)
        try statement.run()
        if delta < 0 {
            let cleanup = try connection.cached("DELETE FROM key_version_rows WHERE tenant = ?1 AND key_version = ?2 AND rows = 0")
            cleanup.bind(1, tenant)
            cleanup.bind(2, version)
            try cleanup.run()
        }
    }
}

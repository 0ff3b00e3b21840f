import Foundation
import Store
import Testing

/// What a ``TokenStore`` reports through its protocol, read in full: two equal values mean the store's
/// state did not change, on any backend (the generic form of "byte-identical", I5).
struct StoreState: Equatable {
    /// Every row, in key order.
    var rows: [StoredToken]
    /// The kept per-version counts of every tenant looked at.
    var keyVersionCounts: [String: [Int: Int]]
    /// The status counts of every tenant looked at.
    var statusCounts: [String: [TokenStatus: Int]]

    /// Reads `store` in full; `tenants` adds tenants that may have no rows any more, so counts left
    /// behind for them show up too.
    init(of store: any TokenStore, tenants: [String] = []) throws {
        var rows: [StoredToken] = []
        try store.forEach {
            rows.append($0); return true
        }
        self.rows = rows
        keyVersionCounts = [:]
        statusCounts = [:]
        for tenant in Set(try store.tenants() + tenants) {
            keyVersionCounts[tenant] = try store.keyVersionCounts(tenant: tenant)
            statusCounts[tenant] = try store.statusCounts(tenant: tenant)
        }
    }

    /// The per-version counts recomputed from the rows themselves: per tenant, how many rows hold a
    /// token sealed with each version. What ``TokenStore/keyVersionCounts(tenant:)`` must report (I1).
    static func recountedVersions(of store: any TokenStore, tenant: String) throws -> [Int: Int] {
        var counts: [Int: Int] = [:]
        try store.forEach(tenant: tenant) { row in
            if row.sealedToken != nil { counts[row.keyVersion, default: 0] += 1 }
            return true
        }
        return counts
    }

    /// Expects the kept per-version counts of every tenant with rows, and of `tenants`, to equal a
    /// recount of the rows.
    static func expectCountsMatchRows(
        _ store: any TokenStore, tenants: [String], after step: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        for tenant in Set(try store.tenants() + tenants).sorted() {
            let kept = try store.keyVersionCounts(tenant: tenant)
            let recounted = try recountedVersions(of: store, tenant: tenant)
            #expect(kept == recounted, "tenant \(tenant) after \(step)", sourceLocation: sourceLocation)
        }
    }
}

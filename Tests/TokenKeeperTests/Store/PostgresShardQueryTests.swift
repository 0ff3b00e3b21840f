import Foundation
import Support
import Testing

@testable import Crypto
@testable import Custody
@testable import PostgresClient
@testable import Store

/// The refresh stage's due query of one shard on PostgreSQL: the server judges the tenant hash exactly as
/// ``TenantShard`` does (also for tenants whose hash has the top bit set, which PostgreSQL's signed bigint
/// reads as negative), so a shard reads only its own due rows.
@Suite struct PostgresShardQueryTests {
    private func newStore() throws -> (store: PostgresTokenStore, connectionString: String) {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        return (
            try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test"),
            connectionString
        )
    }

    /// Whether the first byte of `tenant`'s SHA-256 has its top bit set (a negative bigint on the server).
    private func topBitSet(_ tenant: String) -> Bool { SHA256.hash(Array(tenant.utf8))[0] & 0x80 != 0 }

    @Test func theServerPutsEveryTenantInTheShardTenantShardDoes() throws {
        let (_, connectionString) = try newStore()
        let session = try PostgresConnection(connectionString: connectionString, location: "test", readOnly: false)
        let tenants =
            (0..<500).map { "tenant-\($0)" } + ["", "ünïcödé", "0b1c2d3e-aaaa-bbbb-cccc-000000000000", "a b\tc"]
        #expect(tenants.contains(where: topBitSet) && tenants.contains { !topBitSet($0) })
        for count in [2, 3, 7, 1_000] {
            for index in [1, count] {
                let rows = try session.query(
                    """
                    SELECT t FROM unnest($1::text[]) AS t WHERE \(PostgresTokenStore.shardCondition(tenant: "t", count: "$2", index: "$3"))
                    """, [.textArray(tenants), .int8(Int64(count)), .int8(Int64(index))], purpose: "shard")
                let server = Set((0..<rows.count).map { rows.text($0, 0) })
                let expected = Set(tenants.filter { TenantShard.index(of: $0, count: count) == index })
                #expect(server == expected, "shard \(index)/\(count)")
            }
        }
    }

    @Test func aShardsDueQueryReadsOnlyItsOwnTenantsRows() throws {
        let (store, _) = try newStore()
        let old = Date().addingTimeInterval(-10 * 86_400)
        let tenants = (0..<60).map { "t\($0)" }
        _ = try store.insertBatch(
            tenants.flatMap { tenant in
                (0..<3).map { user in
                    StoredToken(
                        key: TokenKey(tenant: tenant, user: "u\(user)", provider: "p"), secretName: tenant,
                        keyVersion: 1,
                        sealedToken: [1], issuedAt: old)
                }
            })
        var seen: [String: Int] = [:]
        for index in 1...3 {
            var afterID: Int64 = 0
            for _ in 0..<100 {
                let page = try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: Date().addingTimeInterval(-86_400), expiringBefore: nil,
                    now: Date(),
                    afterID: afterID, limit: 7, shard: StoreShard(index: index, count: 3))
                guard let last = page.last else { break }
                afterID = last.id
                for row in page {
                    #expect(TenantShard.index(of: row.key.tenant, count: 3) == index, "\(row.key) in shard \(index)")
                    seen[row.key.description, default: 0] += 1
                }
            }
        }
        #expect(seen.count == tenants.count * 3 && seen.values.allSatisfy { $0 == 1 })
    }

    /// Not a specification: times the due query over 50,000 due rows, unsharded and as shard 1 of 4, when
    /// TOKENKEEPER_MEASURE_SHARD_QUERY is set (README "When one host is not enough" quotes the numbers).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["TOKENKEEPER_MEASURE_SHARD_QUERY"] != nil))
    func measureTheDueQueryOfAShard() throws {
        let (store, _) = try newStore()
        let old = Date().addingTimeInterval(-10 * 86_400)
        for batch in 0..<50 {
            _ = try store.insertBatch(
                (0..<1_000).map { row in
                    StoredToken(
                        key: TokenKey(
                            tenant: "tenant-\(batch * 100 + row % 100)", user: "u\(batch)-\(row)", provider: "p"),
                        secretName: "s", keyVersion: 1, sealedToken: [1], issuedAt: old)
                })
        }
        func walk(_ shard: StoreShard) throws -> (rows: Int, seconds: Double) {
            let started = Date()
            var afterID: Int64 = 0, rows = 0
            for _ in 0..<1_000 {
                let page = try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: Date().addingTimeInterval(-86_400), expiringBefore: nil,
                    now: Date(),
                    afterID: afterID, limit: 1_000, shard: shard)
                guard let last = page.last else { break }
                afterID = last.id
                rows += page.count
            }
            return (rows, Date().timeIntervalSince(started))
        }
        for round in 0..<3 {
            let whole = try walk(.whole)
            let shard = try walk(StoreShard(index: 1, count: 4))
            print(
                "round \(round): whole \(whole.rows) rows \(whole.seconds) s; shard 1/4 \(shard.rows) rows \(shard.seconds) s"
            )
        }
    }
}

import Foundation
import Testing

@testable import Custody

/// The tenant hash that splits a job into shards is stable (the same on every host and in every
/// release, so a running pipeline's shards never trade tenants) and puts every tenant in exactly one shard.
@Suite struct TenantShardTests {
    /// Vectors computed independently (Python: `int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "big") % n + 1`).
    /// A change to the hash fails here.
    static let vectors: [(tenant: String, shards: [Int: Int])] = [
        ("t1", [2: 1, 3: 3, 4: 3, 7: 4, 16: 11]),
        ("t2", [2: 1, 3: 3, 4: 1, 7: 7, 16: 1]),
        ("contoso", [2: 2, 3: 3, 4: 4, 7: 5, 16: 12]),
        ("72f988bf-86f1-41af-91ab-2d7cd011db47", [2: 2, 3: 3, 4: 4, 7: 4, 16: 4]),
        ("", [2: 1, 3: 2, 4: 1, 7: 2, 16: 5]),
        ("é", [2: 2, 3: 1, 4: 4, 7: 4, 16: 4]),
    ]

    @Test func theTenantHashIsTheFirstEightBytesOfSHA256BigEndianModN() {
        for (tenant, shards) in Self.vectors {
            for (count, expected) in shards {
                #expect(TenantShard.index(of: tenant, count: count) == expected, "\(tenant) in \(count) shards")
            }
        }
    }

    @Test func everyTenantIsInExactlyOneShardForAnyNumberOfShards() throws {
        let tenants = (0..<500).map { "tenant-\($0)" } + Self.vectors.map(\.tenant)
        for count in [1, 2, 3, 4, 7, 16] {
            let shards = try (1...count).map { try #require(TenantShard(index: $0, count: count)) }
            for tenant in tenants {
                #expect(shards.filter { $0.contains(tenant) }.count == 1, "\(tenant) in \(count) shards")
            }
            // No shard is left empty by a skewed hash (500 tenants over at most 16 shards).
            #expect(shards.allSatisfy { shard in tenants.contains(where: shard.contains) })
        }
    }

    @Test func kOfNIsReadOnlyWithOneAtMostKAtMostN() {
        #expect(TenantShard(parsing: "2/4") == TenantShard(index: 2, count: 4))
        #expect(TenantShard(parsing: "1/1") == .whole)
        for bad in ["0/4", "5/4", "2/0", "2", "2/4/8", "/4", "2/", "a/4", "-1/4", "+2/4", " 2/4", "2/1001", "２/4"] {
            #expect(TenantShard(parsing: bad) == nil, "\(bad)")
        }
    }

    @Test func eachShardTakesItsShareOfTheJobsRate() throws {
        let shard = try #require(TenantShard(index: 3, count: 4))
        #expect(shard.share(of: 10) == 2.5)
        #expect(shard.share(of: nil) == nil)
        #expect(TenantShard.whole.share(of: 10) == 10)
    }

    @Test func shardFilesGetAKOfNSuffixAndTheWholeJobNone() throws {
        #expect(try #require(TenantShard(index: 2, count: 4)).fileSuffix == "-2-of-4")
        #expect(TenantShard.whole.fileSuffix == "")
    }
}

import Foundation
import Testing

@testable import Store

extension StoreConformanceTests {
    @Test(arguments: StoreBackend.all)
    func aKeyTwiceInABatchPutEndsAsItsLastRowAndOnlyItsFirstIsNew(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token("a", "u1", version: 1))
            let isNew = try store.putBatch([
                Self.token("a", "u9", version: 1), Self.token("a", "u1", version: 2),
                Self.token("a", "u9", version: 3, sealed: [9]),
            ])
            #expect(isNew == [true, false, false])
            #expect(try store.get(Self.key("a", "u9"))?.keyVersion == 3)
            #expect(try store.get(Self.key("a", "u9"))?.sealedToken == [9])
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 1, 3: 1])
            #expect(try store.count() == 2)
        }
    }

    @Test(arguments: StoreBackend.all)
    func batchesKeepEveryFieldOfEveryRowWhetherSetOrEmpty(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            var full = Self.token("a", "u1", version: 4, expiresAt: Self.t0.addingTimeInterval(Self.day))
            full.failureCount = 2
            full.lastErrorCode = "invalid_grant"
            full.leaseOwner = "run-1"
            full.leaseUntil = Self.t0.addingTimeInterval(60)
            let empty = Self.token("a", "u2", sealed: nil, status: .revoked)
            try store.insertBatch([full, empty])
            var replaced = full
            replaced.key = Self.key("a", "u3")
            try store.putBatch([replaced, Self.token("a", "u2", version: 5, status: .needsReauth)])
            for expected in [full, replaced, Self.token("a", "u2", version: 5, status: .needsReauth)] {
                var read = try #require(try store.get(expected.key))
                read.id = 0
                #expect(read == expected)
            }
        }
    }

    @Test(arguments: StoreBackend.all)
    func versionCountsOfManyTenantsAtOnceAreEachTenantsOwnCounts(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.insertBatch([
                Self.token("a", "u1", version: 1), Self.token("a", "u2", version: 2), Self.token("a", "u3", version: 2),
                Self.token("b", "u1", version: 3), Self.token("c", "u1", sealed: nil, status: .revoked),
            ])
            let counts = try store.keyVersionCounts(tenants: ["a", "b", "c", "none"])
            #expect(counts == ["a": [1: 1, 2: 2], "b": [3: 1]])
            for tenant in ["a", "b"] { #expect(counts[tenant] == (try store.keyVersionCounts(tenant: tenant))) }
            #expect(try store.keyVersionCounts(tenants: ["b"]) == ["b": [3: 1]])
        }
    }
}

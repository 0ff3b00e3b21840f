import Foundation
import Store
import Testing

/// The clauses of the ``TokenStore`` contract that bind a store to its vault (identity, whether it holds
/// tokens), the commit after a lost lease, and durable commits: run against every backend.
extension StoreConformanceTests {
    @Test(arguments: StoreBackend.all)
    func aStoreKeepsOneIdentityAcrossSessionsAndTwoStoresDiffer(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { first in
            try withTemporaryDirectory { second in
                let store = try backend.make(folder: first)
                #expect(store.identity.id.count >= 32)
                #expect(try store.openSession().identity == store.identity)
                #expect(try backend.make(folder: second).identity.id != store.identity.id)
            }
        }
    }

    @Test(arguments: StoreBackend.all)
    func holdsTokensCountsOnlyRowsThatStillHoldAToken(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            #expect(try store.holdsTokens() == false)
            try store.put(Self.token("a", "u1", sealed: nil))
            #expect(try store.holdsTokens() == false)
            try store.put(Self.token("a", "u2"))
            #expect(try store.holdsTokens())
            #expect(try store.dropRefreshToken(Self.key("a", "u2"), now: Self.t0))
            #expect(try store.holdsTokens() == false)
        }
    }

    @Test(arguments: StoreBackend.all)
    func tokenCountAndTenantsHoldingTokensSeeOnlyRowsWithATokenOfThatSecret(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token("a", "u1"))
            try store.put(Self.token("a", "u2"))
            try store.put(Self.token("a", "u3", sealed: nil))
            try store.put(Self.token("b", "u1", sealed: nil))
            try store.put(Self.token("c", "u1", version: 2))
            #expect(try store.tokenCount(tenant: "a", secret: "a") == 2)
            #expect(try store.tokenCount(tenant: "a", secret: "other") == 0)
            #expect(try store.tokenCount(tenant: "b", secret: "b") == 0)
            #expect(try store.tenantsHoldingTokens() == ["a", "c"])
        }
    }

    @Test(arguments: StoreBackend.all)
    func aCommitAfterALostLeaseStoresTheTokenOnlyOverTheTokenItStartedFrom(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            let key = Self.key()
            try store.put(Self.token(sealed: [1]))
            #expect(try store.acquireLease(key, owner: "web", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            // The row still holds [1]: the new token goes in, the other holder's lease stays.
            #expect(
                try store.commitRefreshed(
                    key, replacing: [1], owner: "job", secretName: "a", keyVersion: 2, sealedToken: [2],
                    refreshedAt: Self.t0, expiresAt: nil))
            let row = try #require(try store.get(key))
            #expect(row.sealedToken == [2] && row.keyVersion == 2 && row.leaseOwner == "web")
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 1])
            // The row no longer holds [1]: nothing is written.
            #expect(
                try store.commitRefreshed(
                    key, replacing: [1], owner: "job", secretName: "a", keyVersion: 3, sealedToken: [3],
                    refreshedAt: Self.t0, expiresAt: nil) == false)
            #expect(try store.get(key)?.sealedToken == [2])
        }
    }

    @Test(arguments: StoreBackend.all)
    func committedRefreshesCanBeMadeDurableFromManyTasksAtOnce(_ backend: StoreBackend) async throws {
        try await withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token())
            #expect(
                try store.acquireLease(Self.key(), owner: "job", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "job", secretName: "a", keyVersion: 1, sealedToken: [7],
                    refreshedAt: Self.t0, expiresAt: nil))
            let sessions = TokenStoreSessions(store)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 { group.addTask { try await sessions.open().syncCommits() } }
                try await group.waitForAll()
            }
            try await store.syncCommits()
            #expect(try store.openSession().get(Self.key())?.sealedToken == [7])
        }
    }
}

extension StoreConformanceTests {
    @Test(arguments: StoreBackend.all)
    func aBatchPutAddsAndReplacesRowsInOneGoAndKeepsTheCounts(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token("a", "u1", version: 1))
            try store.put(Self.token("a", "u2", sealed: nil))
            let isNew = try store.putBatch([
                Self.token("a", "u1", version: 2), Self.token("a", "u2", version: 2), Self.token("b", "u1", version: 1),
            ])
            #expect(isNew == [false, false, true])
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 2])
            #expect(try store.keyVersionCounts(tenant: "b") == [1: 1])
            #expect(try store.get(Self.key("a", "u2"))?.sealedToken == [1, 2, 3])
            #expect(try store.putBatch([]) == [])
        }
    }
}

extension StoreConformanceTests {
    @Test(arguments: StoreBackend.all)
    func aRefreshCommitNeverMovesARowBackToAnOlderKeyVersion(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token(version: 3, sealed: [1]))
            #expect(
                try store.acquireLease(Self.key(), owner: "web", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "web", secretName: "a", keyVersion: 2, sealedToken: [2], refreshedAt: Self.t0,
                    expiresAt: nil) == false)
            #expect(
                try store.commitRefreshed(
                    Self.key(), replacing: [1], owner: "web", secretName: "a", keyVersion: 2, sealedToken: [2],
                    refreshedAt: Self.t0, expiresAt: nil) == false)
            #expect(try store.get(Self.key())?.sealedToken == [1])
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "web", secretName: "a", keyVersion: 3, sealedToken: [3], refreshedAt: Self.t0,
                    expiresAt: nil))
        }
    }
}

extension StoreConformanceTests {
    @Test(arguments: StoreBackend.all)
    func aDeadTokenMarksTheRowOnlyWhileTheRowStillHoldsIt(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            try store.put(Self.token(sealed: [1]))
            // Another holder committed a newer token meanwhile: the late answer about [1] changes nothing.
            try store.put(Self.token(sealed: [2]))
            #expect(
                try store.markNeedsReauth(Self.key(), errorCode: "invalid_grant", now: Self.t0, ifStillHolding: [1])
                    == false)
            #expect(try store.get(Self.key())?.status == .active)
            #expect(
                try store.markNeedsReauth(Self.key(), errorCode: "invalid_grant", now: Self.t0, ifStillHolding: [2]))
            #expect(try store.get(Self.key())?.status == .needsReauth)
        }
    }
}

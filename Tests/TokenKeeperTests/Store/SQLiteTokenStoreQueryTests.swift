import Foundation
import Testing

@testable import Report
@testable import Store

@Suite struct SQLiteTokenStoreQueryTests {
    let t0 = SQLiteTokenStoreTests.t0

    private func seeded(_ folder: String) throws -> SQLiteTokenStore {
        let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
        for index in 0..<10 { try store.put(SQLiteTokenStoreTests.token("a", "u\(index)", version: index < 6 ? 1 : 2)) }
        try store.put(SQLiteTokenStoreTests.token("b", "u0", version: 1))
        return store
    }

    private func plan(_ store: SQLiteTokenStore, _ sql: String) throws -> String {
        let statement = try store.connection.cached("EXPLAIN QUERY PLAN " + sql)
        defer { statement.reset() }
        var lines: [String] = []
        while try statement.step() { lines.append(statement.text(3)) }
        return lines.joined(separator: "\n")
    }

    @Test func keyVersionCountsCountRowsPerVersion() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 6, 2: 4])
            #expect(try store.referencedVersions(tenant: "b") == [1])
        }
    }

    @Test func tenantWalkVisitsEveryRowNotOnTheTargetVersionOnce() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            var seen: [String] = []
            var after = (user: "", provider: "")
            for _ in 0..<10 {  // bounded: 6 rows in batches of 4 need 3 calls
                let batch = try store.sealedRows(tenant: "a", notOn: 2, after: after, limit: 4)
                guard let last = batch.last else { break }
                seen += batch.map(\.key.user)
                after = (last.key.user, last.key.provider)
            }
            #expect(seen == (0..<6).map { "u\($0)" })
        }
    }

    @Test func tenantWalkReadsOnlyTheTenantsRowsThroughItsKey() throws {
        try withTemporaryDirectory { folder in
            let detail = try plan(try seeded(folder), SQLiteTokenStore.tenantSealedRowsSQL)
            #expect(detail.contains("USING INDEX sqlite_autoindex_tokens_1 (tenant=? AND"), "\(detail)")
            #expect(!detail.contains("TEMP B-TREE"), "\(detail)")
        }
    }

    @Test func refreshQueriesUseTheRefreshAndExpiryIndexes() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            for sql in [SQLiteTokenStore.dueForRefreshSQL, SQLiteTokenStore.countDueForRefreshSQL] {
                let detail = try plan(store, sql)
                #expect(
                    detail.contains("INDEX tokens_by_refresh (provider=? AND status=? AND refreshed_at<?)"), "\(detail)"
                )
                #expect(
                    detail.contains("INDEX tokens_by_expiry (provider=? AND status=? AND expires_at<?)"), "\(detail)")
                #expect(!detail.contains("SCAN "), "no table or index is read whole: \(detail)")
            }
        }
    }

    @Test func dueRowsAreThoseRefreshedBeforeTheCutoffOrExpiringSoon() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            var old = SQLiteTokenStoreTests.token("t", "old")
            old.refreshedAt = t0.addingTimeInterval(-10 * 86_400)
            var expiring = SQLiteTokenStoreTests.token("t", "expiring")
            expiring.expiresAt = t0.addingTimeInterval(3_600)
            var fresh = SQLiteTokenStoreTests.token("t", "fresh")
            fresh.expiresAt = t0.addingTimeInterval(90 * 86_400)
            var dead = SQLiteTokenStoreTests.token("t", "dead")
            dead.refreshedAt = old.refreshedAt
            dead.status = .needsReauth
            for token in [old, expiring, fresh, dead] { try store.put(token) }
            let due = try store.rowsDueForRefresh(
                provider: "p", refreshedBefore: t0.addingTimeInterval(-7 * 86_400),
                expiringBefore: t0.addingTimeInterval(86_400), now: t0, afterID: 0, limit: 100)
            #expect(Set(due.map(\.key.user)) == ["old", "expiring"])
        }
    }

    @Test func streamingVisitsMatchingRowsAndCanStopEarly() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            var users: [String] = []
            try store.forEach(tenant: "a") {
                users.append($0.key.user); return users.count < 3
            }
            #expect(users == ["u0", "u1", "u2"])
        }
    }

    @Test func rewrapSkipsRowsWhoseVersionChangedMeanwhile() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            let rows = try store.sealedRows(tenant: "a", notOn: 2, after: ("", ""), limit: 2)
            // Someone else moves the first row to version 2 before the batch commits.
            var moved = try #require(try store.get(rows[0].key))
            moved.keyVersion = 2
            moved.sealedToken = [7]
            try store.put(moved)
            let updated = try store.replaceSealedTokens(
                rows.map {
                    SealedTokenUpdate(id: $0.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 3, sealedToken: [3])
                })
            #expect(updated == 1)
            #expect(try store.get(rows[0].key)?.sealedToken == [7])
            #expect(try store.get(rows[1].key)?.keyVersion == 3)
        }
    }

    @Test func secondOwnerCannotTakeAHeldLeaseUntilItExpires() throws {
        try withTemporaryDirectory { folder in
            let store = try seeded(folder)
            let key = TokenKey(tenant: "a", user: "u0", provider: "p")
            #expect(try store.acquireLease(key, owner: "job", until: t0.addingTimeInterval(60), now: t0))
            #expect(
                try store.acquireLease(
                    key, owner: "web", until: t0.addingTimeInterval(60), now: t0.addingTimeInterval(30)) == false)
            #expect(
                try store.acquireLease(
                    key, owner: "web", until: t0.addingTimeInterval(200), now: t0.addingTimeInterval(61)))
        }
    }

    @Test func commitOfARefreshIsRefusedWhenTheLeaseWasLost() async throws {
        try await withTemporaryDirectory { folder in
            let store = try seeded(folder)
            let key = TokenKey(tenant: "a", user: "u0", provider: "p")
            #expect(try store.acquireLease(key, owner: "job", until: t0.addingTimeInterval(60), now: t0))
            #expect(
                try store.acquireLease(
                    key, owner: "web", until: t0.addingTimeInterval(500), now: t0.addingTimeInterval(100)))
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 1, sealedToken: [5],
                    refreshedAt: t0, expiresAt: nil) == false)
            #expect(
                try store.commitRefreshed(
                    key, owner: "web", secretName: "a", keyVersion: 1, sealedToken: [6],
                    refreshedAt: t0, expiresAt: nil))
            let row = try #require(try store.get(key))
            #expect(row.sealedToken == [6] && row.leaseOwner == nil)
        }
    }
}

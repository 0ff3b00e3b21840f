import CSQLite
import Foundation
import Testing

@testable import Report
@testable import Store

/// The per-tenant, per-version counts of token-holding rows that rotation plans from and that guard
/// purges (I1): every kind of write keeps them equal to a recount of the rows themselves.
@Suite struct KeyVersionRowsTests {
    let t0 = SQLiteTokenStoreTests.t0

    private func token(_ user: String, version: Int = 1, tenant: String = "a") -> StoredToken {
        SQLiteTokenStoreTests.token(tenant, user, version: version)
    }

    /// The kept counts, after checking they equal a recount.
    private func checkedCounts(_ store: SQLiteTokenStore) throws -> [String: [Int: Int]] {
        let kept = try store.keptKeyVersionRows()
        #expect(kept == (try store.recountedKeyVersionRows()))
        return kept
    }

    @Test func putCountsANewRowAndMovesAReplacedRowsVersion() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(token("u1"))
            try store.put(token("u2"))
            #expect(try checkedCounts(store) == ["a": [1: 2]])
            try store.put(token("u2", version: 2))
            #expect(try checkedCounts(store) == ["a": [1: 1, 2: 1]])
        }
    }

    @Test func envelopeRowsAreCountedUnderTheirDataKeysVersionThroughEveryKindOfWrite() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            func envelope(_ user: String, version: Int, marker: UInt8) -> StoredToken {
                var row = token(user, version: version)
                row.wrappedKey = [UInt8](repeating: marker, count: 60)
                return row
            }
            try store.put(envelope("u1", version: 1, marker: 1))
            try store.insertBatch([envelope("u2", version: 1, marker: 2), token("u3", version: 1)])
            _ = try store.putBatch([envelope("u4", version: 2, marker: 4)])
            #expect(try checkedCounts(store) == ["a": [1: 3, 2: 1]])
            // An old-format row put back in the envelope format under another version moves its count.
            try store.put(envelope("u3", version: 2, marker: 3))
            #expect(try checkedCounts(store) == ["a": [1: 2, 2: 2]])
            let u1 = try #require(try store.get(TokenKey(tenant: "a", user: "u1", provider: "p")))
            _ = try store.replaceDataKeys([
                DataKeyUpdate(
                    id: u1.id, tenant: "a", expectedKeyVersion: 1, expectedWrappedKey: u1.wrappedKey!, newKeyVersion: 2,
                    wrappedKey: [UInt8](repeating: 9, count: 60))
            ])
            #expect(try checkedCounts(store) == ["a": [1: 1, 2: 3]])
            let key = TokenKey(tenant: "a", user: "u2", provider: "p")
            #expect(try store.acquireLease(key, owner: "job", until: t0.addingTimeInterval(60), now: t0))
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 3, sealedToken: [7],
                    wrappedKey: [UInt8](repeating: 7, count: 60), refreshedAt: t0, expiresAt: nil))
            #expect(try checkedCounts(store) == ["a": [2: 3, 3: 1]])
            try store.dropRefreshToken(TokenKey(tenant: "a", user: "u4", provider: "p"), now: t0)
            try store.delete(TokenKey(tenant: "a", user: "u3", provider: "p"))
            #expect(try checkedCounts(store) == ["a": [2: 1, 3: 1]])
            try store.deleteTenant("a")
            #expect(try checkedCounts(store).isEmpty)
            #expect(try store.connection.scalar("SELECT count(*) FROM token_keys") == 0)
        }
    }

    @Test func rowsWithoutATokenAreNotCounted() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            var empty = token("u1")
            empty.sealedToken = nil
            try store.put(empty)
            try store.put(token("u2"))
            #expect(try checkedCounts(store) == ["a": [1: 1]])
            try store.put(token("u1", version: 3))
            #expect(try checkedCounts(store) == ["a": [1: 1, 3: 1]])
        }
    }

    @Test func batchInsertCountsEveryRow() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.insertBatch([token("u1"), token("u2"), token("u3", version: 2), token("u1", tenant: "b")])
            #expect(try checkedCounts(store) == ["a": [1: 2, 2: 1], "b": [1: 1]])
        }
    }

    @Test func deletingARowOrDroppingItsTokenUncountsIt() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            for user in ["u1", "u2", "u3"] { try store.put(token(user)) }
            #expect(try store.delete(token("u1").key))
            #expect(try store.delete(token("u1").key) == false)
            #expect(try store.dropRefreshToken(token("u2").key, now: t0))
            #expect(try store.dropRefreshToken(token("u2").key, now: t0) == false)
            #expect(try checkedCounts(store) == ["a": [1: 1]])
            #expect(try store.referencedVersions(tenant: "a") == [1])
        }
    }

    @Test func deletingATenantRemovesItsCounts() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(token("u1"))
            try store.put(token("u1", tenant: "b"))
            #expect(try store.deleteTenant("a") == 1)
            #expect(try checkedCounts(store) == ["b": [1: 1]])
            #expect(try store.keyVersionCounts(tenant: "a").isEmpty)
        }
    }

    @Test func committedRefreshMovesTheRowToTheVersionItWasSealedWith() async throws {
        try await withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(token("u1"))
            let key = token("u1").key
            #expect(try store.acquireLease(key, owner: "job", until: t0.addingTimeInterval(60), now: t0))
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 4, sealedToken: [9],
                    refreshedAt: t0, expiresAt: nil))
            #expect(try checkedCounts(store) == ["a": [4: 1]])
            // A commit refused for a lost lease moves nothing.
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 5, sealedToken: [9],
                    refreshedAt: t0, expiresAt: nil) == false)
            #expect(try checkedCounts(store) == ["a": [4: 1]])
        }
    }

    @Test func rewrapMovesOnlyTheRowsItChanged() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            for user in ["u1", "u2", "u3"] { try store.put(token(user)) }
            let rows = try store.sealedRows(tenant: "a", notOn: 2, after: ("", ""), limit: 10)
            try store.put(token("u1", version: 3))  // moved meanwhile: the compare-and-set skips it
            let updated = try store.replaceSealedTokens(
                rows.map {
                    SealedTokenUpdate(id: $0.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 2, sealedToken: [4])
                })
            #expect(updated == 2)
            #expect(try checkedCounts(store) == ["a": [2: 2, 3: 1]])
        }
    }

    @Test func rewrapNeverPutsATokenBackIntoARowWhoseTokenWasDropped() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(token("u1"))
            let rows = try store.sealedRows(tenant: "a", notOn: 2, after: ("", ""), limit: 10)
            #expect(try store.dropRefreshToken(token("u1").key, now: t0))
            let updated = try store.replaceSealedTokens(
                rows.map {
                    SealedTokenUpdate(id: $0.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 2, sealedToken: [4])
                })
            #expect(updated == 0)
            #expect(try store.get(token("u1").key)?.sealedToken == nil)
            #expect(try checkedCounts(store).isEmpty)
        }
    }

    @Test func aStoreFromSchemaVersionOneGetsItsCountsAndLosesTheRotationIndex() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            do {
                // A store as tokenkeeper wrote it before the counts existed.
                close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600))
                let connection = try SQLiteConnection(path: path, opening: .newFile)
                try connection.writeTransaction {
                    try connection.execute(StoreSchema.migrations[0])
                    try connection.execute("PRAGMA user_version = 1")
                    try connection.execute(
                        """
                        INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at, updated_at)
                        VALUES ('a', 'u1', 'p', 'a', 1, x'01', 0, 0, 0), ('a', 'u2', 'p', 'a', 2, x'01', 0, 0, 0),
                               ('a', 'u3', 'p', 'a', 2, NULL, 0, 0, 0), ('b', 'u1', 'p', 'b', 1, x'01', 0, 0, 0)
                        """)
                }
            }
            let store = try SQLiteTokenStore(path: path)
            #expect(try checkedCounts(store) == ["a": [1: 1, 2: 1], "b": [1: 1]])
            #expect(
                try store.connection.scalar(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'tokens_by_tenant_version'") == 0)
            #expect(try store.connection.scalar("PRAGMA user_version") == Int64(StoreSchema.currentVersion))
        }
    }
}

import Foundation
import Testing

@testable import Crypto
@testable import Report
@testable import Store
@testable import Support

@Suite struct SQLiteTokenStoreTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func token(
        _ tenant: String = "t", _ user: String = "u", _ provider: String = "p", version: Int = 1,
        sealed: [UInt8] = [1, 2, 3]
    ) -> StoredToken {
        StoredToken(
            key: TokenKey(tenant: tenant, user: user, provider: provider), secretName: tenant, keyVersion: version,
            sealedToken: sealed, issuedAt: t0, expiresAt: t0.addingTimeInterval(86_400))
    }

    @Test func putThenGetRoundTripsEveryColumn() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            var token = Self.token()
            token.status = .needsReauth
            token.failureCount = 2
            token.lastErrorCode = "AADSTS700082"
            token.leaseOwner = "run-1"
            token.leaseUntil = Self.t0
            #expect(try store.put(token))
            var read = try #require(try store.get(token.key))
            #expect(read.id > 0)
            read.id = 0
            #expect(read == token)
        }
    }

    @Test func putOfAnExistingKeyUpdatesTheSameRow() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(Self.token(version: 1))
            let id = try #require(try store.get(Self.token().key)).id
            #expect(try store.put(Self.token(version: 2, sealed: [9])) == false)
            let row = try #require(try store.get(Self.token().key))
            #expect(row.id == id && row.keyVersion == 2 && row.sealedToken == [9])
            #expect(try store.count() == 1)
        }
    }

    @Test func deleteRemovesTheRowAndSaysWhetherThereWasOne() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(Self.token())
            #expect(try store.delete(Self.token().key))
            #expect(try store.delete(Self.token().key) == false)
            #expect(try store.get(Self.token().key) == nil)
        }
    }

    @Test func dropRefreshTokenKeepsTheRecordAsRevoked() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(Self.token())
            #expect(try store.dropRefreshToken(Self.token().key))
            let row = try #require(try store.get(Self.token().key))
            #expect(row.sealedToken == nil && row.status == .revoked)
            #expect(try store.dropRefreshToken(Self.token().key) == false)  // already revoked
        }
    }

    @Test func deleteTenantRemovesOnlyThatTenant() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(Self.token("a", "1"))
            try store.put(Self.token("a", "2"))
            try store.put(Self.token("b", "1"))
            #expect(try store.deleteTenant("a") == 2)
            #expect(try store.tenants() == ["b"])
        }
    }

    @Test func storeFilesAreCreatedPrivate() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/state/tokens.db"
            let store = try SQLiteTokenStore.create(at: path)
            try store.put(Self.token())
            for file in [path, path + "-wal", path + "-shm"] where FileManager.default.fileExists(atPath: file) {
                #expect(
                    try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int == 0o600,
                    "\(file)")
            }
            #expect(
                try FileManager.default.attributesOfItem(atPath: folder + "/state")[.posixPermissions] as? Int == 0o700)
        }
    }

    @Test func groupReadableStoreIsRefusedWithTheFix() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            _ = try SQLiteTokenStore.create(at: path)
            chmod(path, 0o640)
            let error = #expect(throws: InsecurePermissionsError.self) { try SQLiteTokenStore(path: path) }
            #expect(error?.description.contains("chmod 600") == true)
        }
    }

    @Test func storeUsesWriteAheadLogging() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let statement = try store.connection.cached("PRAGMA journal_mode")
            #expect(try statement.step() && statement.text(0) == "wal")
            statement.reset()
        }
    }

    @Test func reopeningMigratesNothingTwice() throws {
        try withTemporaryDirectory { folder in
            try SQLiteTokenStore.create(at: folder + "/tokens.db").put(Self.token())
            let store = try SQLiteTokenStore(path: folder + "/tokens.db")
            #expect(try store.connection.scalar("PRAGMA user_version") == Int64(StoreSchema.currentVersion))
            #expect(try store.count() == 1)
        }
    }

    @Test func storeFromANewerTokenkeeperIsRefused() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            try SQLiteTokenStore.create(at: path).connection.execute("PRAGMA user_version = 99")
            let error = #expect(throws: StoreError.self) { try SQLiteTokenStore(path: path) }
            #expect(error?.description.contains("newer than this tokenkeeper") == true)
        }
    }

    @Test func readOnlyStoreLeavesTheFileByteIdentical() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            do {
                let store = try SQLiteTokenStore.create(at: path)
                for index in 0..<50 { try store.put(Self.token("t", "u\(index)")) }
            }
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            do {
                let store = try SQLiteTokenStore(path: path, readOnly: true)
                #expect(try store.count() == 50)
                _ = try store.keyVersionCounts(tenant: "t")
                #expect(throws: SQLiteError.self) { try store.put(Self.token("x")) }
            }
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        }
    }

    @Test func committedRowsAreMadeDurableOnceNoReaderHoldsAnOlderSnapshot() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            let store = try SQLiteTokenStore.create(at: path, busyTimeout: 0.1)
            try store.put(Self.token("t", "u1"))
            let reader = try SQLiteConnection(path: path)
            try reader.execute("BEGIN")
            #expect(try reader.scalar("SELECT count(*) FROM tokens") == 1)
            try store.put(Self.token("t", "u2"))
            do {
                try store.makeDurable()
                Issue.record("a full checkpoint finished although a reader held an older snapshot")
            } catch StoreError.notDurable(let item) {
                #expect(item == path)
            }
            try reader.execute("COMMIT")
            try store.makeDurable()
            // Every frame of the WAL is synced and copied into the database file.
            let statement = try store.connection.cached("PRAGMA wal_checkpoint(PASSIVE)")
            defer { statement.reset() }
            #expect(try statement.step())
            #expect(statement.int(0) == 0 && statement.int(1) == statement.int(2))
        }
    }

    @Test func busyStoreMakesAWriterWaitThenFailWithABusyError() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            let holder = try SQLiteTokenStore.create(at: path)
            try holder.connection.execute("BEGIN IMMEDIATE")
            defer { try? holder.connection.execute("ROLLBACK") }
            let writer = try SQLiteTokenStore(path: path, busyTimeout: 0.2)
            let started = Date()
            let error = #expect(throws: SQLiteError.self) { try writer.put(Self.token()) }
            #expect(error?.isBusy == true)
            #expect(Date().timeIntervalSince(started) >= 0.2)
        }
    }

    @Test func errorsNeverContainBoundValues() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.connection.execute(
                "CREATE TRIGGER refuse BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'refused'); END")
            let secret = Array("rt-SECRET-VALUE".utf8)
            let error = #expect(throws: SQLiteError.self) { try store.put(Self.token(sealed: secret)) }
            #expect(error?.description.contains("rt-SECRET-VALUE") == false)
            #expect(error?.description.contains("refused") == true)
        }
    }
}

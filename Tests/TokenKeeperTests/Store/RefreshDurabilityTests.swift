import Foundation
import Testing

@testable import Access
@testable import Report
@testable import Store
@testable import Support

/// What the provider gave survives a power cut (I8): a refreshed (rotated) refresh token is synced to
/// disk before the refresh stage redeems the next token and before `token access` hands out the access
/// token; concurrent commits share one sync.
///
/// What these tests can prove: that the write-ahead log's pages are clean in the kernel's page cache
/// (no page written but not yet flushed to the disk) at the moment the commit returns, observed with
/// Linux's cachestat(2), and that the refresh stage runs one sync per commit when nothing runs beside it.
/// What they cannot: cut the power. They trust that the disk honours a flush, and SQLite's design that
/// a synced WAL holds every committed transaction (checkpoints sync the WAL before copying it out).
@Suite struct RefreshDurabilityTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    /// Opens the store and makes an ordinary commit (synchronous=NORMAL: a lease taken and given back), so the
    /// WAL has unsynced pages; checks that the kernel shows them, so a clean WAL later means something. The
    /// caller keeps the returned store open, or closing the last connection would checkpoint and remove the WAL.
    static func storeWithUnsyncedCommit(_ path: String, key: TokenKey) throws -> SQLiteTokenStore {
        let store = try SQLiteTokenStore(path: path)
        #expect(try store.acquireLease(key, owner: "test", until: Date().addingTimeInterval(60)))
        try store.releaseLease(key, owner: "test")
        #expect(
            try !PageCacheState.of(store.commitSync.walPath).isClean,
            "the kernel flushed the WAL by itself; the test saw nothing")
        return store
    }

    @Test func aRefreshCommitIsOnDiskOnceSyncCommitsReturns() async throws {
        try await withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let key = TokenKey(tenant: "a", user: "u", provider: "p")
            try store.put(StoredToken(key: key, secretName: "a", keyVersion: 1, sealedToken: [1], issuedAt: Self.t0))
            #expect(try store.acquireLease(key, owner: "job", until: Date().addingTimeInterval(60)))
            let wal = store.commitSync.walPath
            // The instrument works: an ordinary commit (synchronous=NORMAL) leaves the WAL's new pages unsynced.
            #expect(try !PageCacheState.of(wal).isClean, "the kernel flushed the WAL by itself; the test saw nothing")
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 1, sealedToken: [2],
                    refreshedAt: Date(), expiresAt: nil))
            try await store.syncCommits()
            let after = try PageCacheState.of(wal)
            #expect(after.isClean, "the refresh commit returned with the WAL not on disk: \(after)")
        }
    }

    @Test func commitsWaitingAtOnceShareOneSync() async throws {
        try await withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            try store.put(
                StoredToken(
                    key: TokenKey(tenant: "a", user: "u", provider: "p"), secretName: "a", keyVersion: 1,
                    sealedToken: [1], issuedAt: Self.t0))
            let sync = store.commitSync
            let before = sync.syncCount
            // Hold the sync queue so that ten callers are all waiting before the next sync starts.
            let gate = DispatchSemaphore(value: 0)
            sync.queue.async { gate.wait() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<10 { group.addTask { try await sync.sync() } }
                let deadline = Date().addingTimeInterval(10)
                while sync.waitingCount < 10, Date() < deadline { try await Task.sleep(for: .milliseconds(10)) }
                gate.signal()
                try await group.waitForAll()
            }
            #expect(sync.syncCount - before == 1)
        }
    }

    @Test func theRefreshStageSyncsEveryCommitItMakes() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 5)
            let spec = try world.fixture.spec(
                JobFixture.header + world.idp.providerYAML() + """
                    stages:
                      - name: refresh-tokens
                        kind: refresh
                        provider: local
                        refresh_after: 7d
                        concurrency: 1
                        request_timeout: 5s
                    """)
            let store = try Self.storeWithUnsyncedCommit(
                world.fixture.storePath, key: TokenKey(tenant: "t1", user: "u0", provider: "local"))
            let sync = store.commitSync
            let before = sync.syncCount
            let stage = try await world.run(spec)
            #expect(stage.count(.tokensRefreshed) == 5, "\(stage.cases)")
            // One worker has nobody to share a sync with: each of its commits waited for a sync of its own.
            #expect(sync.syncCount - before >= 5)
            let after = try withExtendedLifetime(store) { try PageCacheState.of(sync.walPath) }
            #expect(after.isClean, "\(after)")
        }
    }

    @Test func tokenAccessHandsOutTheAccessTokenOnlyOnceTheRotatedTokenIsOnDisk() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let access = try TokenAccess(spec: try world.spec(), principal: "web", environment: world.environment)
            let store = try Self.storeWithUnsyncedCommit(world.fixture.storePath, key: key)
            let grant = try await access.accessToken(for: key)
            let after = try withExtendedLifetime(store) { try PageCacheState.of(store.commitSync.walPath) }
            #expect(after.isClean, "the access token came back with the rotated refresh token not on disk: \(after)")
            #expect(grant.accessToken.revealed.hasPrefix("at."))
            #expect(try world.stored(key) != world.tokens[key])
        }
    }

    @Test func onBehalfOfAnswersOnlyOnceTheNewRefreshTokenIsOnDisk() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let access = try TokenAccess(spec: try world.spec(), principal: "web", environment: world.environment)
            let store = try Self.storeWithUnsyncedCommit(
                world.fixture.storePath, key: TokenKey(tenant: "t1", user: "u0", provider: "local"))
            let assertion =
                try await world.idp.admin("admin/assertion", ["tenant": "contoso", "user": "oid-7"])["assertion"]
                as! String
            let grant = try await access.onBehalfOf(
                assertion: SecretText(assertion), provider: "local",
                scope: "api://downstream/.default offline_access")
            let after = try withExtendedLifetime(store) { try PageCacheState.of(store.commitSync.walPath) }
            #expect(after.isClean, "the On-Behalf-Of answer came back with the new refresh token not on disk: \(after)")
            #expect(grant.key == TokenKey(tenant: "contoso", user: "oid-7", provider: "local"))
        }
    }
}

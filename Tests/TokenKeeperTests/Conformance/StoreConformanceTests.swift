import Foundation
import Store
import Testing

/// The ``TokenStore`` contract, one test per clause, run against every backend in ``StoreBackend/all``.
///
/// Written against `any TokenStore` only: a backend passes by keeping the protocol's promises, whatever
/// it is made of. Backend-specific behaviour (file modes, WAL, query plans, migrations) is tested beside
/// each backend (Tests/TokenKeeperTests/Store). Times are whole seconds, names lowercase ASCII, so no
/// backend's clock resolution or collation changes what a test means.
@Suite struct StoreConformanceTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    static let hour: TimeInterval = 3_600
    static let day: TimeInterval = 86_400

    /// A row of tenant `tenant` holding `sealed` (nil: no token) under `version`.
    static func token(
        _ tenant: String = "a", _ user: String = "u1", _ provider: String = "p", version: Int = 1,
        sealed: [UInt8]? = [1, 2, 3], refreshedAt: Date? = nil, expiresAt: Date? = nil,
        status: TokenStatus = .active
    ) -> StoredToken {
        StoredToken(
            key: TokenKey(tenant: tenant, user: user, provider: provider), secretName: tenant, keyVersion: version,
            sealedToken: sealed, issuedAt: t0.addingTimeInterval(-30 * day), refreshedAt: refreshedAt,
            expiresAt: expiresAt, status: status, updatedAt: t0.addingTimeInterval(-30 * day))
    }

    /// The key of the row ``token(_:_:_:version:sealed:refreshedAt:expiresAt:status:)`` makes with the same names.
    static func key(_ tenant: String = "a", _ user: String = "u1", _ provider: String = "p") -> TokenKey {
        TokenKey(tenant: tenant, user: user, provider: provider)
    }

    /// A new store of `backend` in a temporary folder.
    private func withStore<T>(_ backend: StoreBackend, _ body: (any TokenStore) throws -> T) throws -> T {
        try withTemporaryDirectory { folder in try body(try backend.make(folder: folder)) }
    }

    /// A rewrap of `row` from `expected` to `new`.
    private func update(_ row: StoredToken, from expected: Int, to new: Int, sealed: [UInt8] = [9, 9])
        -> SealedTokenUpdate
    {
        SealedTokenUpdate(
            id: row.id, tenant: row.key.tenant, expectedKeyVersion: expected, newKeyVersion: new, sealedToken: sealed)
    }

    /// What a test's body throws to see that the store rolls back or passes the error on.
    private struct BodyFailed: Error {}

    // MARK: - Single rows

    @Test(arguments: StoreBackend.all)
    func putOfANewKeyInsertsTheRowWithEveryFieldAndSaysItWasNew(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            var token = Self.token(expiresAt: Self.t0.addingTimeInterval(Self.day))
            token.refreshedAt = Self.t0.addingTimeInterval(-Self.hour)
            token.status = .needsReauth
            token.failureCount = 2
            token.lastErrorCode = "invalid_grant"
            token.leaseOwner = "run-1"
            token.leaseUntil = Self.t0
            token.updatedAt = Self.t0.addingTimeInterval(-60)
            #expect(try store.put(token))
            var read = try #require(try store.get(token.key))
            #expect(read.id > 0)
            read.id = 0
            #expect(read == token)
            #expect(try store.count() == 1)
        }
    }

    @Test(arguments: StoreBackend.all)
    func putOfAnExistingKeyReplacesEveryFieldKeepsTheRowIDAndSaysItWasNotNew(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token(version: 1, sealed: [1], expiresAt: Self.t0))
            let id = try #require(try store.get(Self.key())).id
            var replacement = Self.token(
                version: 2, sealed: nil, refreshedAt: Self.t0, expiresAt: nil, status: .revoked)
            replacement.secretName = "other-secret"
            replacement.issuedAt = Self.t0.addingTimeInterval(-Self.hour)
            replacement.failureCount = 5
            replacement.lastErrorCode = "consent_required"
            replacement.leaseOwner = "request-7"
            replacement.leaseUntil = Self.t0.addingTimeInterval(60)
            replacement.updatedAt = Self.t0
            #expect(try store.put(replacement) == false)
            var read = try #require(try store.get(Self.key()))
            #expect(read.id == id)
            read.id = 0
            #expect(read == replacement)
            #expect(try store.count() == 1)
        }
    }

    @Test(arguments: StoreBackend.all)
    func getOfAMissingKeyIsNil(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            #expect(try store.get(Self.key()) == nil)
            try store.put(Self.token())
            #expect(try store.get(Self.key("a", "u1", "q")) == nil)
            #expect(try store.get(Self.key("a", "u2", "p")) == nil)
            #expect(try store.get(Self.key("b", "u1", "p")) == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func deleteRemovesOnlyThatRowAndSaysWhetherThereWasOne(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u1"))
            try store.put(Self.token("a", "u2"))
            #expect(try store.delete(Self.key("a", "u1")))
            #expect(try store.get(Self.key("a", "u1")) == nil)
            #expect(try store.get(Self.key("a", "u2")) != nil)
            #expect(try store.delete(Self.key("a", "u1")) == false)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1])
        }
    }

    @Test(arguments: StoreBackend.all)
    func droppingARefreshTokenKeepsTheRecordAsRevokedWithoutTheToken(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u1", version: 3, refreshedAt: Self.t0.addingTimeInterval(-Self.day)))
            try store.put(Self.token("a", "u2", version: 3, refreshedAt: Self.t0))
            let before = try #require(try store.get(Self.key("a", "u1")))
            #expect(try store.dropRefreshToken(Self.key("a", "u1"), now: Self.t0))
            let after = try #require(try store.get(Self.key("a", "u1")))
            #expect(after.sealedToken == nil)
            #expect(after.status == .revoked)
            #expect(after.updatedAt == Self.t0)
            #expect(after.id == before.id && after.issuedAt == before.issuedAt && after.secretName == before.secretName)
            #expect(try store.keyVersionCounts(tenant: "a") == [3: 1])
            #expect(try store.statusCounts(tenant: "a") == [.active: 1, .revoked: 1])
            #expect(try store.count(tenant: "a") == 2)
            // The oldest refresh is now that of the row that still holds a token.
            #expect(try store.oldestRefresh(tenant: "a") == Self.t0)
            #expect(try store.dropRefreshToken(Self.key("a", "u1"), now: Self.t0) == false)
            #expect(try store.dropRefreshToken(Self.key("a", "nobody"), now: Self.t0) == false)
        }
    }

    @Test(arguments: StoreBackend.all)
    func droppingTheTokenOfARowThatNeedsReauthRevokesIt(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token(status: .needsReauth))
            #expect(try store.dropRefreshToken(Self.key(), now: Self.t0))
            let row = try #require(try store.get(Self.key()))
            #expect(row.sealedToken == nil && row.status == .revoked)
            #expect(try store.keyVersionCounts(tenant: "a").isEmpty)
        }
    }

    @Test(arguments: StoreBackend.all)
    func markingNeedsReauthKeepsTheProvidersCodeAndSaysWhetherTheRowExists(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token(version: 2))
            #expect(try store.markNeedsReauth(Self.key(), errorCode: "invalid_grant", now: Self.t0))
            let row = try #require(try store.get(Self.key()))
            #expect(row.status == .needsReauth)
            #expect(row.lastErrorCode == "invalid_grant")
            #expect(row.updatedAt == Self.t0)
            #expect(row.sealedToken == [1, 2, 3] && row.keyVersion == 2)
            #expect(try store.statusCounts(tenant: "a") == [.needsReauth: 1])
            #expect(
                try store.markNeedsReauth(Self.key("a", "nobody"), errorCode: "invalid_grant", now: Self.t0) == false)
            #expect(try store.get(Self.key("a", "nobody")) == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func recordingAFailureCountsItKeepsTheCodeAndLeavesTheTokenUsable(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token())
            #expect(try store.recordFailure(Self.key(), errorCode: "temporarily_unavailable", now: Self.t0))
            #expect(try store.recordFailure(Self.key(), errorCode: "server_error", now: Self.t0.addingTimeInterval(60)))
            let row = try #require(try store.get(Self.key()))
            #expect(row.failureCount == 2)
            #expect(row.lastErrorCode == "server_error")
            #expect(row.updatedAt == Self.t0.addingTimeInterval(60))
            #expect(row.status == .active && row.sealedToken == [1, 2, 3])
            #expect(try store.recordFailure(Self.key("a", "nobody"), errorCode: nil, now: Self.t0) == false)
        }
    }

    @Test(arguments: StoreBackend.all)
    func deletingATenantRemovesItsRowsAndCountsOnlyAndSaysHowMany(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u1", version: 1))
            try store.put(Self.token("a", "u2", version: 2))
            try store.put(Self.token("a", "u3", sealed: nil))
            try store.put(Self.token("b", "u1", version: 1))
            #expect(try store.deleteTenant("a") == 3)
            #expect(try store.tenants() == ["b"])
            #expect(try store.count(tenant: "a") == 0)
            #expect(try store.keyVersionCounts(tenant: "a").isEmpty)
            #expect(try store.statusCounts(tenant: "a").isEmpty)
            #expect(try store.keyVersionCounts(tenant: "b") == [1: 1])
            #expect(try store.deleteTenant("a") == 0)
        }
    }

    @Test(arguments: StoreBackend.all)
    func insertingABatchAddsEveryRowAndSaysHowMany(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            let batch = [
                Self.token("a", "u1"), Self.token("a", "u2", version: 2), Self.token("a", "u3", sealed: nil),
                Self.token("b", "u1", "q"),
            ]
            #expect(try store.insertBatch(batch) == 4)
            for token in batch {
                var read = try #require(try store.get(token.key))
                #expect(read.id > 0)
                read.id = 0
                #expect(read == token)
            }
            #expect(Set(try batch.map { try store.get($0.key)?.id }).count == 4)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
            #expect(try store.insertBatch([]) == 0)
            #expect(try store.count() == 4)
        }
    }

    @Test(arguments: StoreBackend.all)
    func aBatchWithAKeyThatExistsInsertsNothing(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u2", version: 7))
            let before = try StoreState(of: store, tenants: ["b"])
            #expect(throws: (any Error).self) {
                try store.insertBatch([Self.token("a", "u1"), Self.token("a", "u2"), Self.token("a", "u3")])
            }
            #expect(try StoreState(of: store, tenants: ["b"]) == before)
            // A key twice in the batch itself fails it the same way.
            #expect(throws: (any Error).self) {
                try store.insertBatch([Self.token("b", "u1"), Self.token("b", "u2"), Self.token("b", "u1")])
            }
            #expect(try StoreState(of: store, tenants: ["b"]) == before)
            #expect(try store.count() == 1)
            #expect(try store.keyVersionCounts(tenant: "a") == [7: 1])
            #expect(try store.keyVersionCounts(tenant: "b").isEmpty)
        }
    }

    // MARK: - Queries

    @Test(arguments: StoreBackend.all)
    func tenantsCountsStatusesAndOldestRefreshDescribeTheRows(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            #expect(try store.tenants().isEmpty)
            #expect(try store.count() == 0)
            #expect(try store.oldestRefresh(tenant: "a") == nil)
            try store.put(Self.token("c", "u1", sealed: nil, status: .revoked))
            try store.put(Self.token("a", "u1", refreshedAt: Self.t0.addingTimeInterval(-2 * Self.day)))
            try store.put(
                Self.token("a", "u2", refreshedAt: Self.t0.addingTimeInterval(-Self.day), status: .needsReauth))
            // Without a token, an even older refresh time does not count.
            try store.put(
                Self.token(
                    "a", "u3", sealed: nil, refreshedAt: Self.t0.addingTimeInterval(-9 * Self.day), status: .revoked))
            try store.put(Self.token("a", "u4", "q", refreshedAt: Self.t0))
            try store.put(Self.token("b", "u1", refreshedAt: Self.t0))
            #expect(try store.tenants() == ["a", "b", "c"])
            #expect(try store.count() == 6)
            #expect(try store.count(tenant: "a") == 4)
            #expect(try store.count(tenant: "c") == 1)
            #expect(try store.count(tenant: "z") == 0)
            #expect(try store.statusCounts(tenant: "a") == [.active: 2, .needsReauth: 1, .revoked: 1])
            #expect(try store.statusCounts(tenant: "c") == [.revoked: 1])
            #expect(try store.statusCounts(tenant: "z").isEmpty)
            #expect(try store.oldestRefresh(tenant: "a") == Self.t0.addingTimeInterval(-2 * Self.day))
            #expect(try store.oldestRefresh(tenant: "b") == Self.t0)
            #expect(try store.oldestRefresh(tenant: "c") == nil)
            #expect(try store.oldestRefresh(tenant: "z") == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func forEachWalksMatchingRowsInKeyOrderAndStopsWhenAsked(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            let rows = [
                Self.token("b", "u1", "p"), Self.token("a", "u2", "q", status: .needsReauth),
                Self.token("a", "u2", "p"),
                Self.token("a", "u1", "q", sealed: nil, status: .revoked), Self.token("a", "u1", "p"),
                Self.token("c", "u2", "p"),
            ]
            for row in rows { try store.put(row) }
            func keys(
                tenant: String? = nil, user: String? = nil, provider: String? = nil,
                status: TokenStatus? = nil
            ) throws -> [TokenKey] {
                var seen: [TokenKey] = []
                try store.forEach(tenant: tenant, user: user, provider: provider, status: status) {
                    seen.append($0.key); return true
                }
                return seen
            }
            #expect(try keys() == rows.map(\.key).sorted())
            #expect(
                try keys(tenant: "a") == [
                    Self.key("a", "u1", "p"), Self.key("a", "u1", "q"), Self.key("a", "u2", "p"),
                    Self.key("a", "u2", "q"),
                ])
            #expect(
                try keys(user: "u2") == [Self.key("a", "u2", "p"), Self.key("a", "u2", "q"), Self.key("c", "u2", "p")])
            #expect(try keys(provider: "q") == [Self.key("a", "u1", "q"), Self.key("a", "u2", "q")])
            #expect(try keys(status: .revoked) == [Self.key("a", "u1", "q")])
            #expect(try keys(tenant: "a", user: "u2", provider: "p", status: .active) == [Self.key("a", "u2", "p")])
            #expect(try keys(tenant: "a", status: .needsReauth) == [Self.key("a", "u2", "q")])
            #expect(try keys(tenant: "z").isEmpty)
            // The rows come whole.
            var first: StoredToken?
            try store.forEach(tenant: "a", user: "u1", provider: "q", status: nil) {
                first = $0; return true
            }
            #expect(
                first.map {
                    var row = $0; row.id = 0; return row
                } == rows[3])
            // Returning false stops the walk at once.
            var visited = 0
            try store.forEach { _ in
                visited += 1; return visited < 2
            }
            #expect(visited == 2)
        }
    }

    /// Rows of provider `p` around the cutoffs of ``dueForRefresh(_:)``, named for what they are.
    private func seedRefreshCandidates(_ store: any TokenStore) throws {
        let t0 = Self.t0, day = Self.day, hour = Self.hour
        let old = t0.addingTimeInterval(-10 * day), recent = t0.addingTimeInterval(-hour),
            far = t0.addingTimeInterval(30 * day)
        try store.put(Self.token("a", "old", refreshedAt: old, expiresAt: far))
        try store.put(Self.token("a", "expiring", refreshedAt: recent, expiresAt: t0.addingTimeInterval(hour)))
        try store.put(Self.token("a", "fresh", refreshedAt: recent, expiresAt: far))
        try store.put(Self.token("a", "fresh-no-expiry", refreshedAt: recent, expiresAt: nil))
        try store.put(Self.token("a", "reauth", refreshedAt: old, expiresAt: t0, status: .needsReauth))
        try store.put(Self.token("a", "revoked", refreshedAt: old, expiresAt: t0, status: .revoked))
        try store.put(Self.token("a", "no-token", sealed: nil, refreshedAt: old, expiresAt: t0))
        try store.put(Self.token("b", "other-provider", "q", refreshedAt: old, expiresAt: t0))
        var leased = Self.token("b", "leased", refreshedAt: old, expiresAt: t0)
        leased.leaseOwner = "request-1"
        leased.leaseUntil = t0.addingTimeInterval(60)
        try store.put(leased)
        var leaseExpired = Self.token("b", "lease-expired", refreshedAt: old, expiresAt: far)
        leaseExpired.leaseOwner = "run-0"
        leaseExpired.leaseUntil = t0.addingTimeInterval(-60)
        try store.put(leaseExpired)
    }

    /// Every row of provider `p` due at `t0` (refreshed over a day ago or, if `byExpiry`, expiring within
    /// a day), walked one page at a time, with what ``TokenStore/countDueForRefresh(provider:refreshedBefore:expiringBefore:now:)`` says.
    private func dueForRefresh(
        _ store: any TokenStore, byExpiry: Bool = true,
        pageSize: Int = 100
    ) throws -> (users: Set<String>, count: Int) {
        let refreshedBefore = Self.t0.addingTimeInterval(-Self.day)
        let expiringBefore = byExpiry ? Self.t0.addingTimeInterval(Self.day) : nil
        var users: Set<String> = []
        var afterID: Int64 = 0
        for _ in 0..<50 {
            let page = try store.rowsDueForRefresh(
                provider: "p", refreshedBefore: refreshedBefore, expiringBefore: expiringBefore,
                now: Self.t0, afterID: afterID, limit: pageSize)
            #expect(page.count <= pageSize)
            #expect(page.map(\.id) == page.map(\.id).sorted() && page.allSatisfy { $0.id > afterID })
            for row in page { #expect(users.insert(row.key.user).inserted, "\(row.key) given twice") }
            guard let last = page.last else { break }
            afterID = last.id
        }
        let count = try store.countDueForRefresh(
            provider: "p", refreshedBefore: refreshedBefore, expiringBefore: expiringBefore,
            now: Self.t0)
        return (users, count)
    }

    @Test(arguments: StoreBackend.all)
    func dueRowsAreActiveUnleasedRowsWithATokenRefreshedBeforeTheCutoffOrExpiringBeforeIt(_ backend: StoreBackend)
        throws
    {
        try withStore(backend) { store in
            try seedRefreshCandidates(store)
            let due = try dueForRefresh(store)
            #expect(due.users == ["old", "expiring", "lease-expired"])
            #expect(due.count == 3)
            // The rows come whole.
            let row = try #require(
                try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: Self.t0.addingTimeInterval(-Self.day), expiringBefore: nil,
                    now: Self.t0,
                    afterID: 0, limit: 1
                ).first)
            #expect(row == (try store.get(row.key)))
        }
    }

    @Test(arguments: StoreBackend.all)
    func withoutAnExpiryCutoffOnlyTheRefreshTimeMakesARowDue(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try seedRefreshCandidates(store)
            let due = try dueForRefresh(store, byExpiry: false)
            #expect(due.users == ["old", "lease-expired"])
            #expect(due.count == 2)
        }
    }

    @Test(arguments: StoreBackend.all)
    func dueRowsComePageByPageInIDOrderAfterTheCursor(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for index in 0..<7 {
                try store.put(Self.token("a", "due-\(index)", refreshedAt: Self.t0.addingTimeInterval(-9 * Self.day)))
                try store.put(Self.token("a", "fresh-\(index)", refreshedAt: Self.t0))
            }
            var pages: [Int] = []
            var afterID: Int64 = 0
            var users: [String] = []
            for _ in 0..<10 {
                let page = try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: Self.t0.addingTimeInterval(-Self.day),
                    expiringBefore: nil, now: Self.t0, afterID: afterID, limit: 3)
                pages.append(page.count)
                #expect(page.allSatisfy { $0.id > afterID })
                #expect(page.map(\.id) == page.map(\.id).sorted())
                users += page.map(\.key.user)
                guard let last = page.last else { break }
                afterID = last.id
            }
            #expect(pages == [3, 3, 1, 0])
            #expect(Set(users) == Set((0..<7).map { "due-\($0)" }) && users.count == 7)
            #expect(
                try store.countDueForRefresh(
                    provider: "p", refreshedBefore: Self.t0.addingTimeInterval(-Self.day),
                    expiringBefore: nil, now: Self.t0) == 7)
        }
    }

    // MARK: - Leases and the refresh commit

    @Test(arguments: StoreBackend.all)
    func aLeaseIsRefusedToASecondOwnerUntilItExpiresThenTakenOver(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token())
            let t0 = Self.t0
            #expect(try store.acquireLease(Self.key(), owner: "run-a", until: t0.addingTimeInterval(60), now: t0))
            var row = try #require(try store.get(Self.key()))
            #expect(row.leaseOwner == "run-a" && row.leaseUntil == t0.addingTimeInterval(60))
            #expect(
                try store.acquireLease(
                    Self.key(), owner: "run-b", until: t0.addingTimeInterval(120),
                    now: t0.addingTimeInterval(30)) == false)
            row = try #require(try store.get(Self.key()))
            #expect(row.leaseOwner == "run-a" && row.leaseUntil == t0.addingTimeInterval(60))
            // The holder may extend its own lease.
            #expect(
                try store.acquireLease(
                    Self.key(), owner: "run-a", until: t0.addingTimeInterval(90), now: t0.addingTimeInterval(30)))
            #expect(try store.get(Self.key())?.leaseUntil == t0.addingTimeInterval(90))
            // Once it has expired, another owner takes it.
            #expect(
                try store.acquireLease(
                    Self.key(), owner: "run-b", until: t0.addingTimeInterval(200), now: t0.addingTimeInterval(100)))
            row = try #require(try store.get(Self.key()))
            #expect(row.leaseOwner == "run-b" && row.leaseUntil == t0.addingTimeInterval(200))
            #expect(
                try store.acquireLease(
                    Self.key("a", "nobody"), owner: "run-a", until: t0.addingTimeInterval(60), now: t0) == false)
        }
    }

    @Test(arguments: StoreBackend.all)
    func releasingALeaseFreesItOnlyForItsOwner(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token())
            let until = Self.t0.addingTimeInterval(60)
            #expect(try store.acquireLease(Self.key(), owner: "run-a", until: until, now: Self.t0))
            try store.releaseLease(Self.key(), owner: "run-b")
            let row = try #require(try store.get(Self.key()))
            #expect(row.leaseOwner == "run-a" && row.leaseUntil == until)
            #expect(try store.acquireLease(Self.key(), owner: "run-c", until: until, now: Self.t0) == false)
            try store.releaseLease(Self.key(), owner: "run-a")
            let released = try #require(try store.get(Self.key()))
            #expect(released.leaseOwner == nil && released.leaseUntil == nil)
            #expect(try store.acquireLease(Self.key(), owner: "run-c", until: until, now: Self.t0))
            // Releasing a row nobody leases, or a missing row, changes nothing and does not fail.
            try store.releaseLease(Self.key("a", "nobody"), owner: "run-c")
        }
    }

    @Test(arguments: StoreBackend.all)
    func aRefreshCommitsTheNewTokenWhileTheLeaseIsHeldAndClearsLeaseAndFailures(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token(version: 1, refreshedAt: Self.t0.addingTimeInterval(-Self.day)))
            try store.put(Self.token("a", "u2", version: 1))
            try store.recordFailure(Self.key(), errorCode: "temporarily_unavailable", now: Self.t0)
            #expect(
                try store.acquireLease(Self.key(), owner: "run-a", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            let refreshedAt = Self.t0.addingTimeInterval(10), expiresAt = Self.t0.addingTimeInterval(90 * Self.day)
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "run-a", secretName: "a-secret", keyVersion: 2, sealedToken: [7, 7, 7],
                    refreshedAt: refreshedAt, expiresAt: expiresAt))
            let row = try #require(try store.get(Self.key()))
            #expect(row.secretName == "a-secret" && row.keyVersion == 2 && row.sealedToken == [7, 7, 7])
            #expect(row.refreshedAt == refreshedAt && row.expiresAt == expiresAt)
            #expect(row.status == .active && row.failureCount == 0 && row.lastErrorCode == nil)
            #expect(row.leaseOwner == nil && row.leaseUntil == nil)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
        }
    }

    @Test(arguments: StoreBackend.all)
    func aRefreshCommitsAfterTheLeaseRanOutIfNobodyTookItMeanwhile(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            // The provider answered late: the token it returned must still be kept (I8), as nobody else redeemed the old one.
            try store.put(Self.token(version: 1))
            #expect(
                try store.acquireLease(Self.key(), owner: "run-a", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "run-a", secretName: "a", keyVersion: 2, sealedToken: [7],
                    refreshedAt: Self.t0.addingTimeInterval(300), expiresAt: nil))
            let row = try #require(try store.get(Self.key()))
            #expect(row.keyVersion == 2 && row.sealedToken == [7] && row.leaseOwner == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func aRefreshCommitWritesNothingOnceTheLeaseWasLost(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token(version: 1))
            #expect(
                try store.acquireLease(Self.key(), owner: "run-a", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            #expect(
                try store.acquireLease(
                    Self.key(), owner: "request-b", until: Self.t0.addingTimeInterval(200),
                    now: Self.t0.addingTimeInterval(100)))
            let before = try StoreState(of: store)
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "run-a", secretName: "a", keyVersion: 2, sealedToken: [7],
                    refreshedAt: Self.t0.addingTimeInterval(110), expiresAt: nil) == false)
            #expect(try StoreState(of: store) == before)
            // Nor without any lease, nor for a missing row.
            try store.releaseLease(Self.key(), owner: "request-b")
            let unleased = try StoreState(of: store)
            #expect(
                try store.commitRefreshed(
                    Self.key(), owner: "run-a", secretName: "a", keyVersion: 2, sealedToken: [7],
                    refreshedAt: Self.t0, expiresAt: nil) == false)
            #expect(
                try store.commitRefreshed(
                    Self.key("a", "nobody"), owner: "run-a", secretName: "a", keyVersion: 2, sealedToken: [7],
                    refreshedAt: Self.t0, expiresAt: nil) == false)
            #expect(try StoreState(of: store) == unleased)
        }
    }

    // MARK: - Key versions (I1)

    @Test(arguments: StoreBackend.all)
    func keyVersionCountsEqualARecountOfTheRowsAfterEveryKindOfWrite(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            let tenants = ["a", "b"]
            func check(_ step: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
                try StoreState.expectCountsMatchRows(
                    store, tenants: tenants, after: step, sourceLocation: sourceLocation)
            }
            try store.put(Self.token("a", "u1", version: 1)); try check("put of a new row")
            try store.put(Self.token("a", "u2", version: 1)); try check("put of a second row")
            try store.put(Self.token("b", "u1", version: 1)); try check("put in another tenant")
            try store.put(Self.token("a", "u3", sealed: nil)); try check("put of a row without a token")
            try store.put(Self.token("a", "u2", version: 2)); try check("put moving a row to another version")
            try store.put(Self.token("a", "u3", version: 3)); try check("put giving a row a token")
            try store.put(Self.token("a", "u1", version: 1, sealed: nil)); try check("put taking a row's token away")
            try store.insertBatch([
                Self.token("a", "u4"), Self.token("a", "u5", version: 2), Self.token("b", "u2"),
                Self.token("a", "u6", sealed: nil),
            ]); try check("batch insert")
            _ = try? store.insertBatch([Self.token("a", "u7"), Self.token("a", "u4")]); try check("failed batch insert")
            try store.delete(Self.key("a", "u4")); try check("delete")
            try store.delete(Self.key("a", "u4")); try check("delete of a missing row")
            try store.dropRefreshToken(Self.key("a", "u5"), now: Self.t0); try check("dropped token")
            try store.dropRefreshToken(Self.key("a", "u5"), now: Self.t0); try check("second drop")
            try store.markNeedsReauth(Self.key("a", "u2"), errorCode: "invalid_grant", now: Self.t0);
            try check("needs reauth")
            try store.recordFailure(Self.key("a", "u3"), errorCode: "server_error", now: Self.t0); try check("failure")
            _ = try store.acquireLease(
                Self.key("a", "u3"), owner: "run", until: Self.t0.addingTimeInterval(60), now: Self.t0)
            try check("lease")
            _ = try store.commitRefreshed(
                Self.key("a", "u3"), owner: "run", secretName: "a", keyVersion: 4, sealedToken: [4],
                refreshedAt: Self.t0, expiresAt: nil);
            try check("refresh commit")
            _ = try store.commitRefreshed(
                Self.key("a", "u3"), owner: "run", secretName: "a", keyVersion: 5, sealedToken: [5],
                refreshedAt: Self.t0, expiresAt: nil);
            try check("refused refresh commit")
            _ = try store.acquireLease(
                Self.key("a", "u1"), owner: "run", until: Self.t0.addingTimeInterval(60), now: Self.t0)
            _ = try store.commitRefreshed(
                Self.key("a", "u1"), owner: "run", secretName: "a", keyVersion: 4, sealedToken: [4],
                refreshedAt: Self.t0, expiresAt: nil);
            try check("refresh commit filling a row without a token")
            let u2 = try #require(try store.get(Self.key("a", "u2")))
            let u3 = try #require(try store.get(Self.key("a", "u3")))
            let u5 = try #require(try store.get(Self.key("a", "u5")))
            try store.replaceSealedTokens(
                [update(u2, from: 2, to: 6), update(u3, from: 1, to: 6), update(u5, from: 2, to: 6)],
                now: Self.t0)
            try check("rewrap (one applied, one stale, one dropped)")
            let b1 = try #require(try store.get(Self.key("b", "u1")))
            let b2 = try #require(try store.get(Self.key("b", "u2")))
            _ = try store.replacingSealedTokensInOneTransaction(now: Self.t0) { apply in
                _ = try apply([update(b1, from: 1, to: 2)])
                return try apply([update(b2, from: 1, to: 2)])
            }
            try check("rewrap in one transaction")
            _ = try? store.replacingSealedTokensInOneTransaction(now: Self.t0) { apply -> Int in
                _ = try apply([update(b1, from: 2, to: 3)])
                throw BodyFailed()
            }
            try check("rolled back rewrap")
            try store.withCheckpointInterval(pages: 64) { try store.put(Self.token("b", "u3", version: 9)) }
            try check("put during a long run of writes")
            try store.deleteTenant("b"); try check("tenant deleted")
            #expect(try store.keyVersionCounts(tenant: "a") == [4: 2, 6: 1])
            #expect(try store.keyVersionCounts(tenant: "b").isEmpty)
        }
    }

    // MARK: - Rotation's reads

    @Test(arguments: StoreBackend.all)
    func tenantWalkGivesRowsWithATokenOffTheTargetInUserProviderOrderPageByPage(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u5", "p", version: 1, sealed: [5]))
            try store.put(Self.token("a", "u1", "q", version: 1, sealed: [1, 1]))
            try store.put(Self.token("a", "u1", "p", version: 3, sealed: [1]))
            try store.put(Self.token("a", "u2", "p", version: 2, sealed: [2]))  // on the target
            try store.put(Self.token("a", "u3", "p", version: 1, sealed: nil))  // no token
            try store.put(Self.token("a", "u4", "p", version: 1, sealed: [4], status: .needsReauth))
            try store.put(Self.token("b", "u1", "p", version: 1, sealed: [6]))  // another tenant
            var walked: [SealedRow] = []
            var after = (user: "", provider: "")
            var pages: [Int] = []
            for _ in 0..<10 {
                let page = try store.sealedRows(tenant: "a", notOn: 2, after: after, limit: 2)
                pages.append(page.count)
                walked += page
                guard let last = page.last else { break }
                after = (last.key.user, last.key.provider)
            }
            #expect(pages == [2, 2, 0])
            #expect(
                walked.map(\.key) == [
                    Self.key("a", "u1", "p"), Self.key("a", "u1", "q"), Self.key("a", "u4", "p"),
                    Self.key("a", "u5", "p"),
                ])
            for row in walked {
                let stored = try #require(try store.get(row.key))
                #expect(
                    row.id == stored.id && row.secretName == stored.secretName && row.keyVersion == stored.keyVersion)
                #expect(row.sealedToken == stored.sealedToken)
            }
            #expect(
                try store.sealedRows(tenant: "a", notOn: 2, after: ("u1", "p"), limit: 10).map(\.key.user) == [
                    "u1", "u4", "u5",
                ])
            #expect(try store.sealedRows(tenant: "z", notOn: 2, after: ("", ""), limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.all)
    func idWalkGivesTheSelectedRowsWithATokenInIDOrderAndEndsWithNoCursor(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            var wantedKeys: Set<TokenKey> = []
            for index in 0..<12 {
                let tenant = ["a", "b", "c"][index % 3]
                let version = index % 2 + 1
                let sealed: [UInt8]? = index % 5 == 4 ? nil : [UInt8(index)]
                try store.put(Self.token(tenant, "u\(index)", version: version, sealed: sealed))
                if sealed != nil, tenant != "c", version == 1 || tenant == "b" {
                    wantedKeys.insert(Self.key(tenant, "u\(index)"))
                }
            }
            var walked: [SealedRow] = []
            var afterID: Int64 = 0
            var finished = false
            for _ in 0..<20 {
                var asked: [(String, Int)] = []
                let (rows, lastID) = try store.sealedRows(afterID: afterID, scanLimit: 3) { tenant, version in
                    asked.append((tenant, version))
                    return tenant != "c" && (version == 1 || tenant == "b")
                }
                #expect(rows.count <= 3)
                #expect(rows.allSatisfy { $0.id > afterID })
                guard let lastID else {
                    #expect(rows.isEmpty)
                    finished = true
                    break
                }
                #expect(lastID > afterID)
                #expect(rows.allSatisfy { $0.id <= lastID })
                #expect(asked.count <= 3)
                walked += rows
                afterID = lastID
            }
            #expect(finished)
            #expect(walked.map(\.id) == walked.map(\.id).sorted())
            #expect(Set(walked.map(\.key)) == wantedKeys && walked.count == wantedKeys.count)
            for row in walked {
                let stored = try #require(try store.get(row.key))
                #expect(
                    row.id == stored.id && row.secretName == stored.secretName && row.keyVersion == stored.keyVersion)
                #expect(row.sealedToken == stored.sealedToken)
            }
        }
    }

    // MARK: - Rewrap (compare-and-set)

    @Test(arguments: StoreBackend.all)
    func rewrapAppliesOnlyToRowsStillOnTheVersionTheyWereReadWith(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for user in ["u1", "u2", "u3"] { try store.put(Self.token("a", user, version: 1)) }
            let read = try store.sealedRows(tenant: "a", notOn: 2, after: ("", ""), limit: 10)
            #expect(read.count == 3)
            // Meanwhile a refresh moved u2 to version 3.
            try store.put(Self.token("a", "u2", version: 3, sealed: [3, 3]))
            let updates = read.map {
                SealedTokenUpdate(id: $0.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 2, sealedToken: [9, 9])
            }
            #expect(try store.replaceSealedTokens(updates, now: Self.t0) == 2)
            for user in ["u1", "u3"] {
                let row = try #require(try store.get(Self.key("a", user)))
                #expect(row.keyVersion == 2 && row.sealedToken == [9, 9] && row.updatedAt == Self.t0)
            }
            let skipped = try #require(try store.get(Self.key("a", "u2")))
            #expect(skipped.keyVersion == 3 && skipped.sealedToken == [3, 3])
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 2, 3: 1])
            // The same batch again changes nothing: every row has moved on.
            #expect(try store.replaceSealedTokens(updates, now: Self.t0) == 0)
            #expect(try store.replaceSealedTokens([], now: Self.t0) == 0)
        }
    }

    @Test(arguments: StoreBackend.all)
    func rewrapNeverPutsATokenBackIntoARowWhoseTokenWasDropped(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.token("a", "u1", version: 1))
            let row = try #require(try store.get(Self.key("a", "u1")))
            try store.dropRefreshToken(Self.key("a", "u1"), now: Self.t0)
            let dropped = try StoreState(of: store)
            #expect(try store.replaceSealedTokens([update(row, from: 1, to: 2)], now: Self.t0) == 0)
            let changed = try store.replacingSealedTokensInOneTransaction(now: Self.t0) { apply in
                try apply([update(row, from: 1, to: 2)])
            }
            #expect(changed == [false])
            #expect(try StoreState(of: store) == dropped)
            #expect(try store.get(Self.key("a", "u1"))?.sealedToken == nil)
        }
    }

    @Test(arguments: StoreBackend.all)
    func batchesInOneTransactionSayWhichRowsChangedAndCommitTogether(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for user in ["u1", "u2", "u3"] { try store.put(Self.token("a", user, version: 1)) }
            let rows = try ["u1", "u2", "u3"].map { try #require(try store.get(Self.key("a", $0))) }
            let (result, flags) = try store.replacingSealedTokensInOneTransaction(now: Self.t0) { apply in
                let first = try apply([update(rows[0], from: 1, to: 2), update(rows[1], from: 5, to: 2)])
                let second = try apply([update(rows[2], from: 1, to: 2)])
                return ("done", first + second)
            }
            #expect(result == "done")
            #expect(flags == [true, false, true])
            #expect(try store.get(Self.key("a", "u1"))?.keyVersion == 2)
            #expect(try store.get(Self.key("a", "u2"))?.keyVersion == 1)
            #expect(try store.get(Self.key("a", "u3"))?.sealedToken == [9, 9])
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 2])
        }
    }

    @Test(arguments: StoreBackend.all)
    func batchesInOneTransactionCommitNothingWhenTheBodyThrows(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for user in ["u1", "u2", "u3"] { try store.put(Self.token("a", user, version: 1)) }
            let rows = try ["u1", "u2", "u3"].map { try #require(try store.get(Self.key("a", $0))) }
            let before = try StoreState(of: store)
            var applied: [Bool] = []
            #expect(throws: BodyFailed.self) {
                try store.replacingSealedTokensInOneTransaction(now: Self.t0) { apply -> Int in
                    applied = try apply([update(rows[0], from: 1, to: 2), update(rows[1], from: 1, to: 2)])
                    applied += try apply([update(rows[2], from: 1, to: 2)])
                    throw BodyFailed()
                }
            }
            #expect(applied == [true, true, true])
            #expect(try StoreState(of: store) == before)
            #expect(try StoreState(of: store.openSession()) == before)
        }
    }

    @Test(arguments: StoreBackend.all)
    func aLongRunOfWritesRunsTheBodyAndKeepsWhatItCommitted(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            var runs = 0
            let result = try store.withCheckpointInterval(pages: 8_192) { () -> Int in
                runs += 1
                for index in 0..<5 { try store.put(Self.token("a", "u\(index)")) }
                return 42
            }
            #expect(result == 42 && runs == 1)
            #expect(try store.openSession().count(tenant: "a") == 5)
            // A throwing body's error comes out as it is.
            #expect(throws: BodyFailed.self) {
                try store.withCheckpointInterval(pages: 8_192) { () -> Int in throw BodyFailed() }
            }
            try store.put(Self.token("a", "after"))
            #expect(try store.count() == 6)
        }
    }

    @Test(arguments: StoreBackend.all)
    func committedWritesAreMadeDurableWhenNoOtherSessionIsBusy(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            do {
                let store = try backend.make(folder: folder)
                for index in 0..<5 { try store.put(Self.token("a", "u\(index)")) }
                try store.makeDurable()
                try store.makeDurable()
            }
            let reopened = try backend.openReadOnly(folder: folder)
            #expect(try reopened.count(tenant: "a") == 5)
        }
    }

    // MARK: - Read-only (I5)

    /// Every write of the protocol, each with arguments that would change the store seeded by
    /// ``readOnlySessionRefusesEveryWriteAndChangesNothing(_:)``.
    private static let writes: [(String, @Sendable (any TokenStore) throws -> Void)] = [
        ("put of a new row", { try $0.put(token("a", "new")) }),
        ("put replacing a row", { try $0.put(token("a", "u1", version: 5)) }),
        ("delete", { try $0.delete(key("a", "u1")) }),
        ("dropRefreshToken", { try $0.dropRefreshToken(key("a", "u1"), now: t0) }),
        ("markNeedsReauth", { try $0.markNeedsReauth(key("a", "u1"), errorCode: "invalid_grant", now: t0) }),
        ("recordFailure", { try $0.recordFailure(key("a", "u1"), errorCode: "server_error", now: t0) }),
        ("deleteTenant", { try $0.deleteTenant("a") }),
        ("insertBatch", { try $0.insertBatch([token("a", "new-1"), token("a", "new-2")]) }),
        (
            "acquireLease",
            { _ = try $0.acquireLease(key("a", "u1"), owner: "run", until: t0.addingTimeInterval(60), now: t0) }
        ),
        ("releaseLease", { try $0.releaseLease(key("a", "leased"), owner: "holder") }),
        (
            "commitRefreshed",
            {
                _ = try $0.commitRefreshed(
                    key("a", "leased"), owner: "holder", secretName: "a", keyVersion: 2, sealedToken: [8],
                    refreshedAt: t0, expiresAt: nil)
            }
        ),
        (
            "replaceSealedTokens",
            { store in
                let row = try #require(try store.get(key("a", "u1")))
                let update = SealedTokenUpdate(
                    id: row.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 2, sealedToken: [8])
                try store.replaceSealedTokens([update], now: t0)
            }
        ),
        (
            "replacingSealedTokensInOneTransaction",
            { store in
                let row = try #require(try store.get(key("a", "u1")))
                _ = try store.replacingSealedTokensInOneTransaction(now: t0) { apply in
                    try apply([
                        SealedTokenUpdate(
                            id: row.id, tenant: "a", expectedKeyVersion: 1, newKeyVersion: 2, sealedToken: [8])
                    ])
                }
            }
        ),
        (
            "put inside withCheckpointInterval",
            { store in
                _ = try store.withCheckpointInterval(pages: 64) { () -> Bool in try store.put(token("a", "new")) }
            }
        ),
    ]

    @Test(arguments: StoreBackend.all)
    func readOnlySessionRefusesEveryWriteAndChangesNothing(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            do {
                let store = try backend.make(folder: folder)
                try store.put(Self.token("a", "u1", version: 1))
                try store.put(Self.token("a", "u2", version: 2, status: .needsReauth))
                try store.put(Self.token("b", "u1", sealed: nil, status: .revoked))
                try store.put(Self.token("a", "leased"))
                #expect(
                    try store.acquireLease(
                        Self.key("a", "leased"), owner: "holder", until: Self.t0.addingTimeInterval(3_600),
                        now: Self.t0))
            }
            let bytesBefore = try backend.bytesAtRest(folder: folder)
            do {
                let readOnly = try backend.openReadOnly(folder: folder)
                #expect(readOnly.isReadOnly)
                let before = try StoreState(of: readOnly)
                #expect(before.rows.count == 4)
                for (name, write) in Self.writes {
                    #expect(throws: (any Error).self, "\(name) on a read-only session") { try write(readOnly) }
                }
                // Neither durability nor checkpoint settings are writes of rows; whatever they do, they change nothing.
                _ = try? readOnly.makeDurable()
                _ = try? readOnly.withCheckpointInterval(pages: 64) { try readOnly.count() }
                #expect(try StoreState(of: readOnly) == before)
                let other = try readOnly.openSession()
                #expect(other !== readOnly && other.isReadOnly)
                #expect(throws: (any Error).self) { try other.put(Self.token("a", "new")) }
                #expect(try StoreState(of: other) == before)
            }
            if let bytesBefore {
                #expect(try backend.bytesAtRest(folder: folder) == bytesBefore)
            }
        }
    }

    // MARK: - Sessions

    @Test(arguments: StoreBackend.all)
    func anotherSessionSeesWhatThisOneCommittedAndTheOtherWayRound(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            let other = try store.openSession()
            #expect(other !== store)
            #expect(other.isReadOnly == false)
            #expect(other.location == store.location)
            try store.put(Self.token("a", "u1"))
            #expect(try other.get(Self.key("a", "u1")) != nil)
            try other.put(Self.token("a", "u2", version: 2))
            #expect(try store.get(Self.key("a", "u2"))?.keyVersion == 2)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
            try other.delete(Self.key("a", "u1"))
            #expect(try store.get(Self.key("a", "u1")) == nil)
            #expect(
                try store.acquireLease(
                    Self.key("a", "u2"), owner: "run-a", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            #expect(
                try other.acquireLease(
                    Self.key("a", "u2"), owner: "request-b", until: Self.t0.addingTimeInterval(60),
                    now: Self.t0) == false)
        }
    }

    @Test(arguments: StoreBackend.all)
    func sessionsOpenedForOtherThreadsWriteAlongsideThisOne(_ backend: StoreBackend) async throws {
        try await withTemporaryDirectory { folder async throws in
            let store = try backend.make(folder: folder)
            let sessions = TokenStoreSessions(store)
            let workers = (0..<2).map { worker in
                Task.detached { () throws -> Int in
                    let session = try sessions.open()
                    for index in 0..<10 { try session.put(Self.token("w\(worker)", "u\(index)")) }
                    return try session.count(tenant: "w\(worker)")
                }
            }
            for index in 0..<10 { try store.put(Self.token("main", "u\(index)")) }
            for worker in workers { #expect(try await worker.value == 10) }
            #expect(try store.tenants() == ["main", "w0", "w1"])
            #expect(try store.count() == 30)
            try StoreState.expectCountsMatchRows(store, tenants: [], after: "writes from three sessions")
        }
    }

    // MARK: - No leaks (I6)

    @Test(arguments: StoreBackend.all)
    func errorsNeverCarryASealedToken(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let marker = Array("SEALED-TOKEN-MARKER".utf8)
            var errors: [any Error] = []
            do {
                let store = try backend.make(folder: folder)
                try store.put(Self.token("a", "u1", sealed: marker))
                do {
                    try store.insertBatch([
                        Self.token("a", "u2", sealed: marker), Self.token("a", "u1", sealed: marker),
                    ])
                } catch {
                    errors.append(error)
                }
            }
            let readOnly = try backend.openReadOnly(folder: folder)
            do { try readOnly.put(Self.token("a", "u3", sealed: marker)) } catch { errors.append(error) }
            do { try readOnly.insertBatch([Self.token("a", "u4", sealed: marker)]) } catch { errors.append(error) }
            #expect(errors.count == 3)
            let forms = [
                "SEALED-TOKEN-MARKER", marker.map { String(format: "%02x", $0) }.joined(),
                marker.map { String(format: "%02X", $0) }.joined(), Data(marker).base64EncodedString(),
            ]
            for error in errors {
                let texts = [String(describing: error), String(reflecting: error), error.localizedDescription]
                for text in texts {
                    for form in forms { #expect(!text.contains(form), "\(text)") }
                }
            }
        }
    }
}

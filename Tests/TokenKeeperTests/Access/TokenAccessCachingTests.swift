import Foundation
import Testing

@testable import Access
@testable import Custody
@testable import Identity
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

/// `TokenAccess` as a token store: cached access tokens checked against their row, one redemption at a
/// time per key, refresh on demand. Against the real identity provider, whose access tokens live 3600 s.
@Suite(.serialized) struct TokenAccessCachingTests {
    typealias World = RefreshStageTests.World

    static func key(_ user: String) -> TokenKey { TokenKey(tenant: "t1", user: user, provider: "local") }

    static func access(_ world: World, caching: AccessTokenCaching = .default, clock: TestClock? = nil) throws
        -> TokenAccess
    {
        let clock = clock ?? TestClock()
        return try TokenAccess(
            spec: try world.spec(), principal: "pipeline", environment: world.environment, caching: caching,
            clock: { clock.now })
    }

    static func redemptions(_ world: World) async throws -> Int { try await world.idp.stats()["redemptions"] ?? -1 }

    @Test func aSecondCallHandsOutTheCachedTokenWithoutRedeeming() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let access = try Self.access(world)
            let first = try await access.accessToken(for: Self.key("u0"))
            let second = try await access.accessToken(for: Self.key("u0"))
            #expect(!first.fromCache && second.fromCache)
            #expect(
                second.accessToken == first.accessToken && second.expiresAt == first.expiresAt
                    && second.idToken == first.idToken)
            #expect(try await Self.redemptions(world) == 1)
            #expect(try await !world.idp.familyIsDead(try world.stored(Self.key("u0"))))
        }
    }

    @Test func theCachedTokenIsHandedOutUntilTheProvidersExpiryMinusTheSkew() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 2)
            let clock = TestClock()
            let access = try Self.access(world, clock: clock)
            let first = try await access.accessToken(for: Self.key("u0"))
            clock.advance(3_600 - 300 - 1)
            #expect(try await access.accessToken(for: Self.key("u0")).accessToken == first.accessToken)
            #expect(try await Self.redemptions(world) == 1)
            clock.advance(1)
            let renewed = try await access.accessToken(for: Self.key("u0"))
            #expect(!renewed.fromCache && renewed.accessToken != first.accessToken)
            #expect(try await Self.redemptions(world) == 2)

            // A skew of one minute keeps it until 60 s before the provider's expiry.
            let shortClock = TestClock()
            let short = try Self.access(world, caching: AccessTokenCaching(expirySkew: 60), clock: shortClock)
            _ = try await short.accessToken(for: Self.key("u1"))
            shortClock.advance(3_600 - 60 - 1)
            #expect(try await short.accessToken(for: Self.key("u1")).fromCache)
            shortClock.advance(1)
            #expect(try await !short.accessToken(for: Self.key("u1")).fromCache)
            #expect(try await Self.redemptions(world) == 4)
        }
    }

    @Test func pastTheBoundTheLeastRecentlyUsedTokenGoesAndIsRedeemedAgain() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 3)
            let access = try Self.access(world, caching: AccessTokenCaching(maxEntries: 2))
            func fromCache(_ user: String) async throws -> Bool {
                try await access.accessToken(for: Self.key(user)).fromCache
            }
            #expect(try await !fromCache("u0"))
            #expect(try await !fromCache("u1"))
            #expect(try await fromCache("u0"))  // u1 is now the least recently used
            #expect(try await !fromCache("u2"))  // pushes u1 out
            #expect(access.cachedAccessTokens == 2)
            #expect(try await fromCache("u0"))
            #expect(try await fromCache("u2"))
            #expect(try await !fromCache("u1"))
            #expect(try await Self.redemptions(world) == 4)
        }
    }

    @Test func aRowDroppedMarkedNeedsReauthDeletedOrSignedInAgainSinceIsNotHandedOutFromTheCache() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 4)
            let access = try Self.access(world)
            var cached: [String: SecretText] = [:]
            for user in ["u0", "u1", "u2", "u3"] {
                cached[user] = try await access.accessToken(for: Self.key(user)).accessToken
            }
            #expect(try await Self.redemptions(world) == 4)
            // What a revoke job, a refresh job or another host does to the rows meanwhile, through its own connection.
            let other = try world.fixture.custodian()
            #expect(try other.store.dropRefreshToken(Self.key("u0")))
            try await world.idp.admin(
                "admin/kill", ["refresh_token": try world.stored(Self.key("u1")), "code": "AADSTS700082"])
            #expect(try other.store.markNeedsReauth(Self.key("u1"), errorCode: "AADSTS700082"))
            #expect(try other.store.delete(Self.key("u2")))
            let signedInAgain = try await world.idp.signIn(tenant: "t1", user: "u3")
            try other.put(Self.key("u3"), token: SecretText(signedInAgain), issuedAt: Date(), expiresAt: nil)

            await #expect(throws: StoreError.self) { try await access.accessToken(for: Self.key("u0")) }
            let refused = await #expect(throws: OAuthError.self) { try await access.accessToken(for: Self.key("u1")) }
            #expect(refused?.providerCode == "AADSTS700082")
            await #expect(throws: StoreError.self) { try await access.accessToken(for: Self.key("u2")) }
            let regranted = try await access.accessToken(for: Self.key("u3"))
            #expect(!regranted.fromCache && regranted.accessToken != cached["u3"])
            #expect(try await Self.redemptions(world) == 5, "only the new sign-in was redeemed")
            #expect(access.cachedAccessTokens == 1, "the entries of the changed rows are gone")
        }
    }

    @Test func concurrentCallersOfOneUserShareOneRedemption() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let access = try Self.access(world)
            // The provider takes half a second to answer, so every caller comes while the redemption is in the air.
            try await world.idp.admin("admin/faults", ["delay": 0.5, "count": 1])
            let grants = try await withThrowingTaskGroup(of: AccessGrant.self) { group in
                for _ in 0..<8 { group.addTask { try await access.accessToken(for: Self.key("u0")) } }
                var all: [AccessGrant] = []
                for try await grant in group { all.append(grant) }
                return all
            }
            #expect(try await Self.redemptions(world) == 1)
            #expect(try await world.idp.stats()["token_requests"] == 1)
            #expect(Set(grants.map(\.accessToken.revealed)).count == 1)
            #expect(try await access.accessToken(for: Self.key("u0")).fromCache)
        }
    }

    @Test func forceRefreshRedeemsEvenWhenACachedTokenIsValidAndReplacesIt() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let access = try Self.access(world)
            let first = try await access.accessToken(for: Self.key("u0"))
            let forced = try await access.accessToken(for: Self.key("u0"), forceRefresh: true)
            #expect(!forced.fromCache && forced.accessToken != first.accessToken)
            #expect(try await Self.redemptions(world) == 2)
            let after = try await access.accessToken(for: Self.key("u0"))
            #expect(after.fromCache && after.accessToken == forced.accessToken)
        }
    }

    @Test func aLeaseLostWhileRedeemingIsAnErrorAndNothingIsCached() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let access = try Self.access(world)
            // The provider holds the redemption 4 s: time for the sign-in below even on a loaded machine.
            try await world.idp.admin("admin/faults", ["delay": 4.0, "count": 1])
            let call = Task { try await access.accessToken(for: Self.key("u0")) }
            // Once the request holds the lease (at most 5 s), the user signs in again: the row is replaced, lease and all.
            for _ in 0..<500 where try world.row(Self.key("u0")).leaseOwner == nil {
                try await Task.sleep(for: .milliseconds(10))
            }
            let signedInAgain = try await world.idp.signIn(tenant: "t1", user: "u0")
            try world.fixture.custodian().put(
                Self.key("u0"), token: SecretText(signedInAgain), issuedAt: Date(), expiresAt: nil)
            let error = await #expect(throws: AccessError.self) { try await call.value }
            #expect(error?.description.contains("lost its lease") == true)
            #expect(try world.stored(Self.key("u0")) == signedInAgain, "the new sign-in's token stays")
            #expect(access.cachedAccessTokens == 0)
        }
    }

    @Test func aRowLeftLeasedByAnInterruptedRefreshIsNotRedeemedAgainButMarkedNeedsReauth() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let key = Self.key("u0")
            // A holder took the lease a minute ago and died mid-request: its lease has run out.
            let store = try world.fixture.custodian().store
            #expect(
                try store.acquireLease(
                    key, owner: "job dead", until: Date().addingTimeInterval(-1), now: Date().addingTimeInterval(-60)))
            let access = try Self.access(world)
            let error = await #expect(throws: AccessError.self) { try await access.accessToken(for: key) }
            #expect(error?.description.contains("interrupted_refresh") == true)
            #expect(try world.row(key).status == .needsReauth)
            #expect(try await Self.redemptions(world) == 0, "the token is never redeemed again")
        }
    }

    @Test func cachedTokensNeverReachTheDiskNorAnythingTokenAccessPrints() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 2)
            let access = try Self.access(world)
            let grant = try await access.accessToken(for: Self.key("u0"))
            _ = try await access.accessToken(for: Self.key("u1"))
            #expect(try await access.accessToken(for: Self.key("u0")).fromCache)
            #expect(try world.fixture.custodian().store.dropRefreshToken(Self.key("u1")))
            let error = await #expect(throws: StoreError.self) { try await access.accessToken(for: Self.key("u1")) }
            var dumped = ""
            dump(access, to: &dumped)
            var grantDump = ""
            dump(grant, to: &grantDump)
            var texts = [
                String(describing: access), String(reflecting: access), dumped, grantDump, "\(grant)",
                "\(error.map { "\($0)" } ?? "")",
            ]
            // Every file of the state: the store (with its WAL), the vault and its audit log.
            let root = world.fixture.folder + "/state"
            for name in FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [] {
                if let data = FileManager.default.contents(atPath: root + "/" + name) {
                    texts.append(String(decoding: data, as: UTF8.self))
                }
            }
            let secrets = [
                grant.accessToken.revealed, grant.idToken ?? "no id token", world.idp.clientSecret,
                world.fixture.masterKey.base64,
            ]
            for text in texts {
                for secret in secrets { #expect(!text.contains(secret)) }
            }
            #expect(String(describing: access).contains("1 of 10000 entries"))
        }
    }
}

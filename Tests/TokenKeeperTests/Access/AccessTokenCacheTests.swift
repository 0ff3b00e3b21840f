import Foundation
import Testing

@testable import Access
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// The in-memory access token cache on its own: expiry with skew, the LRU bound, and what it prints.
struct AccessTokenCacheTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    static func key(_ user: String, scope: String? = "offline_access") -> AccessTokenCache.Key {
        AccessTokenCache.Key(row: TokenKey(tenant: "t1", user: user, provider: "local"), scope: scope)
    }

    static func entry(_ token: String, expiresIn: TimeInterval = 3_600) -> AccessTokenCache.Entry {
        AccessTokenCache.Entry(
            accessToken: SecretText(token), tokenType: "Bearer", idToken: SecretText("id." + token),
            expiresAt: start.addingTimeInterval(expiresIn), rowID: 1, rowIssuedAt: start)
    }

    @Test func anEntryIsHandedOutUntilTheProvidersExpiryMinusTheSkewAndDroppedThen() {
        var cache = AccessTokenCache(policy: AccessTokenCaching(expirySkew: 300))
        cache.store(Self.entry("at.1"), for: Self.key("u0"), at: Self.start)
        #expect(
            cache.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_299))?.accessToken.revealed == "at.1")
        #expect(cache.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_300)) == nil)
        #expect(cache.count == 0, "an expired entry is dropped when looked up")
    }

    @Test func theSkewIsConfigurableButNeverNegative() {
        var short = AccessTokenCache(policy: AccessTokenCaching(expirySkew: 60))
        short.store(Self.entry("at.1"), for: Self.key("u0"), at: Self.start)
        #expect(short.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_539)) != nil)
        #expect(short.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_540)) == nil)
        // A negative skew would keep a token past the provider's expiry: it counts as 0.
        #expect(AccessTokenCaching(expirySkew: -600).expirySkew == 0)
        var none = AccessTokenCache(policy: AccessTokenCaching(expirySkew: -600))
        none.store(Self.entry("at.2"), for: Self.key("u0"), at: Self.start)
        #expect(none.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_599)) != nil)
        #expect(none.entry(for: Self.key("u0"), at: Self.start.addingTimeInterval(3_600)) == nil)
    }

    @Test func aTokenThatLivesNoLongerThanTheSkewIsNotCached() {
        var cache = AccessTokenCache(policy: AccessTokenCaching(expirySkew: 300))
        cache.store(Self.entry("at.1", expiresIn: 300), for: Self.key("u0"), at: Self.start)
        #expect(cache.count == 0)
        #expect(cache.entry(for: Self.key("u0"), at: Self.start) == nil)
    }

    @Test func theDefaultPolicyIsFiveMinutesAndTenThousandEntries() {
        #expect(AccessTokenCaching.default == AccessTokenCaching(expirySkew: 300, maxEntries: 10_000))
        #expect(AccessTokenCaching.disabled.maxEntries == 0)
    }

    @Test func pastTheBoundTheLeastRecentlyUsedEntryGoes() {
        var cache = AccessTokenCache(policy: AccessTokenCaching(maxEntries: 3))
        for user in ["u0", "u1", "u2"] { cache.store(Self.entry("at." + user), for: Self.key(user), at: Self.start) }
        _ = cache.entry(for: Self.key("u0"), at: Self.start)  // u0 used: u1 is now the least recently used
        cache.store(Self.entry("at.u3"), for: Self.key("u3"), at: Self.start)
        #expect(cache.count == 3)
        #expect(cache.entry(for: Self.key("u1"), at: Self.start) == nil)
        for user in ["u0", "u2", "u3"] {
            #expect(cache.entry(for: Self.key(user), at: Self.start)?.accessToken.revealed == "at." + user)
        }
        // Many more than the bound: it stays at the bound, and the newest are the ones kept.
        for index in 0..<100 { cache.store(Self.entry("at.n\(index)"), for: Self.key("n\(index)"), at: Self.start) }
        #expect(cache.count == 3)
        #expect(
            cache.entry(for: Self.key("n99"), at: Self.start) != nil
                && cache.entry(for: Self.key("n96"), at: Self.start) == nil)
    }

    @Test func aSizeOfZeroCachesNothing() {
        var cache = AccessTokenCache(policy: .disabled)
        cache.store(Self.entry("at.1"), for: Self.key("u0"), at: Self.start)
        #expect(cache.count == 0)
    }

    @Test func scopesAreCachedApart() {
        var cache = AccessTokenCache(policy: .default)
        cache.store(Self.entry("at.graph"), for: Self.key("u0", scope: "graph"), at: Self.start)
        cache.store(Self.entry("at.api"), for: Self.key("u0", scope: "api"), at: Self.start)
        #expect(cache.entry(for: Self.key("u0", scope: "graph"), at: Self.start)?.accessToken.revealed == "at.graph")
        #expect(cache.entry(for: Self.key("u0", scope: "api"), at: Self.start)?.accessToken.revealed == "at.api")
        #expect(cache.entry(for: Self.key("u0", scope: nil), at: Self.start) == nil)
    }

    @Test func anEntryReplacedSinceItWasReadIsNotRemovedInItsPlace() throws {
        var cache = AccessTokenCache(policy: .default)
        cache.store(Self.entry("at.old"), for: Self.key("u0"), at: Self.start)
        let readOld = cache.entry(for: Self.key("u0"), at: Self.start)
        let old = try #require(readOld)
        cache.store(Self.entry("at.new"), for: Self.key("u0"), at: Self.start)
        cache.remove(Self.key("u0"), ifStill: old)
        let readNew = cache.entry(for: Self.key("u0"), at: Self.start)
        let new = try #require(readNew)
        #expect(new.accessToken.revealed == "at.new")
        cache.remove(Self.key("u0"), ifStill: new)
        #expect(cache.count == 0)
    }

    @Test func neitherPrintNorDumpShowsACachedToken() {
        var cache = AccessTokenCache(policy: .default)
        cache.store(Self.entry("at.secret-value"), for: Self.key("u0"), at: Self.start)
        var dumped = ""
        dump(cache, to: &dumped)
        var entryDump = ""
        dump(Self.entry("at.secret-value"), to: &entryDump)
        for text in [
            String(describing: cache), String(reflecting: cache), "\(cache)", dumped, entryDump,
            String(reflecting: Self.entry("at.secret-value")),
        ] {
            #expect(!text.contains("secret-value"), "\(text)")
        }
        #expect(String(describing: cache).contains("1 of 10000 entries"))
    }
}

/// One flight per key: concurrent callers share one run of the operation.
struct SingleFlightTests {
    /// Counts runs and holds each run until released, so callers pile up while it is in the air.
    final class Gate: @unchecked Sendable {
        private let lock = NSLock()
        private var runs = 0
        private var callers = 0
        private var open = false
        func arrive() { lock.lock(); callers += 1; lock.unlock() }
        var arrived: Int { lock.lock(); defer { lock.unlock() }; return callers }
        func enter() -> Int { lock.lock(); defer { lock.unlock() }; runs += 1; return runs }
        var count: Int { lock.lock(); defer { lock.unlock() }; return runs }
        var isOpen: Bool { lock.lock(); defer { lock.unlock() }; return open }
        func release() { lock.lock(); open = true; lock.unlock() }
    }

    @Test func concurrentCallersOfOneKeyShareOneRunAndItsResult() async throws {
        let flights = SingleFlight<String, Int>()
        let gate = Gate()
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    gate.arrive()
                    return try await flights.run("u0") {
                        let run = gate.enter()
                        for _ in 0..<500 where !gate.isOpen { try await Task.sleep(for: .milliseconds(10)) }
                        return run
                    }
                }
            }
            // Let every caller arrive and join (at most 5 s), then let the one run finish.
            for _ in 0..<500 where gate.arrived < 8 || flights.inFlight == 0 {
                try await Task.sleep(for: .milliseconds(10))
            }
            try await Task.sleep(for: .milliseconds(100))
            gate.release()
            var all: [Int] = []
            for try await result in group { all.append(result) }
            return all
        }
        #expect(gate.count == 1)
        #expect(results == Array(repeating: 1, count: 8))
        #expect(flights.inFlight == 0, "a landed flight leaves the table")
        // The next call, after the flight landed, runs again.
        #expect(try await flights.run("u0") { gate.enter() } == 2)
    }

    @Test func differentKeysFlyApartAndAnErrorReachesEveryWaiter() async throws {
        struct Refused: Error {}
        let flights = SingleFlight<String, Int>()
        #expect(try await flights.run("a") { 1 } == 1)
        #expect(try await flights.run("b") { 2 } == 2)
        await #expect(throws: Refused.self) { try await flights.run("a") { throw Refused() } }
        #expect(flights.inFlight == 0)
    }
}

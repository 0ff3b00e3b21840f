import Foundation
import Testing

@testable import Report
@testable import Store

/// The store keeps times in milliseconds: leases last as long as they were given, and a store written
/// with whole seconds keeps its times when it is migrated.
@Suite struct StoreTimeTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func aLeaseOfNSecondsLastsNSecondsNotUpToNPlusOne() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let key = TokenKey(tenant: "a", user: "u", provider: "p")
            try store.put(StoredToken(key: key, secretName: "a", keyVersion: 1, sealedToken: [1], issuedAt: Self.t0))
            let taken = Self.t0.addingTimeInterval(0.3)
            #expect(try store.acquireLease(key, owner: "job", until: taken.addingTimeInterval(1), now: taken))
            // Held for the whole second...
            #expect(
                try store.acquireLease(
                    key, owner: "web", until: taken.addingTimeInterval(61), now: taken.addingTimeInterval(0.99))
                    == false)
            #expect(
                try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: taken, expiringBefore: nil,
                    now: taken.addingTimeInterval(0.99), afterID: 0, limit: 10
                ).isEmpty)
            // ... and over 10 ms after it, not up to a second later.
            #expect(
                try store.rowsDueForRefresh(
                    provider: "p", refreshedBefore: taken, expiringBefore: nil,
                    now: taken.addingTimeInterval(1.01), afterID: 0, limit: 10
                ).count == 1)
            #expect(
                try store.acquireLease(
                    key, owner: "web", until: taken.addingTimeInterval(61), now: taken.addingTimeInterval(1.01)))
        }
    }

    @Test func timesKeepTheirMilliseconds() throws {
        try withTemporaryDirectory { folder in
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let key = TokenKey(tenant: "a", user: "u", provider: "p")
            let issued = Self.t0.addingTimeInterval(0.123), refreshed = Self.t0.addingTimeInterval(5.456)
            try store.put(
                StoredToken(
                    key: key, secretName: "a", keyVersion: 1, sealedToken: [1], issuedAt: issued,
                    refreshedAt: refreshed,
                    expiresAt: Self.t0.addingTimeInterval(86_400.789), updatedAt: refreshed))
            let row = try #require(try store.get(key))
            #expect(Self.sameMillisecond(row.issuedAt, issued) && Self.sameMillisecond(row.refreshedAt, refreshed))
            #expect(Self.sameMillisecond(row.updatedAt, refreshed))
            #expect(Self.sameMillisecond(try #require(row.expiresAt), Self.t0.addingTimeInterval(86_400.789)))
        }
    }

    /// Whether `stored` is `original` rounded down to a millisecond (a Date is a binary floating-point number of
    /// seconds, so t + 0.123 may be a hair below the millisecond it names and come back one millisecond early).
    static func sameMillisecond(_ stored: Date, _ original: Date) -> Bool {
        let lag = original.timeIntervalSince(stored), noise = 0.000_01  // binary rounding of the two Dates
        return lag > -noise && lag < 0.001 + noise
    }

    @Test func aStoreMigratedFromWholeSecondsKeepsItsTimes() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            // A store as schema version 2 left it: times in whole unix seconds.
            do {
                close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600))
                let connection = try SQLiteConnection(path: path, opening: .newFile)
                try connection.execute(StoreSchema.migrations[0])
                try connection.execute(
                    """
                    INSERT INTO tokens (tenant, user_id, provider, secret_name, key_version, sealed_token, issued_at, refreshed_at,
                        expires_at, status, lease_owner, lease_until, updated_at)
                    VALUES ('a', 'leased', 'p', 'a', 1, x'01', 1800000000, 1800000100, 1800000200, 'active', 'job', 1800000300, 1800000400),
                           ('a', 'plain', 'p', 'a', 1, x'02', 1800000000, 1800000000, NULL, 'active', NULL, NULL, 1800000000);
                    """)
                try connection.execute(StoreSchema.migrations[1])
                try connection.execute("PRAGMA user_version = 2")
            }
            let store = try SQLiteTokenStore(path: path)
            #expect(try store.connection.scalar("PRAGMA user_version") == Int64(StoreSchema.currentVersion))
            let leased = try #require(try store.get(TokenKey(tenant: "a", user: "leased", provider: "p")))
            #expect(leased.issuedAt == Self.t0)
            #expect(leased.refreshedAt == Self.t0.addingTimeInterval(100))
            #expect(leased.expiresAt == Self.t0.addingTimeInterval(200))
            #expect(leased.leaseUntil == Self.t0.addingTimeInterval(300))
            #expect(leased.updatedAt == Self.t0.addingTimeInterval(400))
            let plain = try #require(try store.get(TokenKey(tenant: "a", user: "plain", provider: "p")))
            #expect(plain.expiresAt == nil && plain.leaseUntil == nil && plain.refreshedAt == Self.t0)
            // The converted lease still ends when it did.
            #expect(
                try store.acquireLease(
                    leased.key, owner: "web", until: Self.t0.addingTimeInterval(999),
                    now: Self.t0.addingTimeInterval(299)) == false)
            #expect(
                try store.acquireLease(
                    leased.key, owner: "web", until: Self.t0.addingTimeInterval(999),
                    now: Self.t0.addingTimeInterval(300.001)))
        }
    }
}

import Foundation
import Store
import Support

/// How ``TokenAccess`` keeps access tokens in memory: how long before the provider's expiry it stops
/// handing one out, and how many it keeps. Access tokens are never written anywhere: they live in the
/// process that redeemed them, as in App Service's token store and MSAL.

public struct AccessTokenCaching: Sendable, Equatable {
    /// How long before the provider's `expires_in` runs out a cached access token stops being handed out,
    /// so that a caller never gets one that dies on its way to the API. A token whose `expires_in` is not
    /// longer than this is not cached at all. Never negative: a token is never kept past what the
    /// provider said.
    public var expirySkew: TimeInterval
    /// The most access tokens kept (one per tenant, user, provider and scope); past it the least recently
    /// used goes. 0 turns caching off: every call redeems.
    public var maxEntries: Int

    /// 5 minutes of skew (as MSAL), 10,000 entries: with Entra's tokens (an access token and an id_token
    /// of 1-2 KB each) a full cache holds roughly 20-40 MB.
    public static let `default` = AccessTokenCaching()

    /// No caching: every call redeems at the provider, as `token access` (a process per call) does.
    public static let disabled = AccessTokenCaching(maxEntries: 0)

    /// Creates a policy; a negative skew counts as 0 and a negative size as 0 (no caching).
    public init(expirySkew: TimeInterval = 300, maxEntries: Int = 10_000) {
        self.expirySkew = max(0, expirySkew)
        self.maxEntries = max(0, maxEntries)
    }
}

/// Access tokens by (tenant, user, provider, scope), each until its provider's expiry minus the skew,
/// at most ``AccessTokenCaching/maxEntries`` of them, the least recently used going first.
///
/// A plain value with no lock: ``TokenAccess`` guards it. Every lookup and insert is O(1): a dictionary
/// finds an entry's slot, and the slots form a doubly linked list from the most to the least recently
/// used. Tokens are ``SecretText``, and the cache's description and mirror show only counts, so neither
/// `print` nor `dump` of the cache (or of what holds it) shows a token.
struct AccessTokenCache: CustomStringConvertible, CustomReflectable {
    /// What an access token is cached under: the row and the scope asked for.
    struct Key: Hashable, Sendable {
        var row: TokenKey
        var scope: String?
    }

    /// One cached access token, with the row it was redeemed from as it was then.
    struct Entry: Sendable {
        var accessToken: SecretText
        var tokenType: String
        var idToken: SecretText?
        /// When the provider said the token expires (from the moment the request was sent).
        var expiresAt: Date
        /// The row's id and issue time at redemption: a row deleted and added again, or replaced by a new
        /// sign-in, is another grant, and its old access tokens are not handed out for it.
        var rowID: Int64
        var rowIssuedAt: Date
        /// Set by the cache when stored: tells an entry from the one that replaced it.
        var generation: UInt64 = 0

        /// Whether `row` is still the row this token was redeemed from, and still usable: active, with a
        /// refresh token (not dropped, revoked or marked needs_reauth since).
        func stillBacked(by row: StoredToken) -> Bool {
            row.id == rowID && row.issuedAt == rowIssuedAt && row.status == .active && row.sealedToken != nil
        }
    }

    private struct Slot {
        var key: Key
        var entry: Entry
        var usableUntil: Date
        var newer: Int
        var older: Int
    }

    /// The policy in force.
    let policy: AccessTokenCaching
    private var index: [Key: Int] = [:]
    private var slots: [Slot?] = []
    private var freeSlots: [Int] = []
    private var newest = -1
    private var oldest = -1
    private var generations: UInt64 = 0

    /// An empty cache.
    init(policy: AccessTokenCaching) { self.policy = policy }

    /// How many access tokens are cached (some may have expired, until looked up or pushed out).
    var count: Int { index.count }

    /// The entry for `key` if it is still usable at `now` (before its expiry minus the skew), now the most
    /// recently used; an entry past that is dropped.
    mutating func entry(for key: Key, at now: Date) -> Entry? {
        guard let slot = index[key], let found = slots[slot] else { return nil }
        guard now < found.usableUntil else {
            remove(slot: slot)
            return nil
        }
        unlink(slot)
        pushNewest(slot)
        return found.entry
    }

    /// Caches `entry` under `key` (replacing what was there), unless the provider's expiry minus the skew
    /// has already passed at `now`; then pushes out the least recently used entries beyond the bound.
    mutating func store(_ entry: Entry, for key: Key, at now: Date) {
        if let slot = index[key] { remove(slot: slot) }
        let usableUntil = entry.expiresAt.addingTimeInterval(-policy.expirySkew)
        guard policy.maxEntries > 0, now < usableUntil else { return }
        generations += 1
        var entry = entry
        entry.generation = generations
        let value = Slot(key: key, entry: entry, usableUntil: usableUntil, newer: -1, older: -1)
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = value
        } else {
            slot = slots.count
            slots.append(value)
        }
        index[key] = slot
        pushNewest(slot)
        while index.count > policy.maxEntries, oldest >= 0 { remove(slot: oldest) }
    }

    /// Drops the entry for `key` if it is still the one given (not since replaced by a newer redemption).
    mutating func remove(_ key: Key, ifStill entry: Entry) {
        guard let slot = index[key], slots[slot]?.entry.generation == entry.generation else { return }
        remove(slot: slot)
    }

    var description: String {
        "AccessTokenCache(\(count) of \(policy.maxEntries) entries, skew \(Int(policy.expirySkew)) s)"
    }
    var customMirror: Mirror {
        Mirror(self, children: ["count": count, "maxEntries": policy.maxEntries], displayStyle: .struct)
    }

    // MARK: - The recency list

    private mutating func remove(slot: Int) {
        unlink(slot)
        index[slots[slot]!.key] = nil
        slots[slot] = nil
        freeSlots.append(slot)
    }

    private mutating func unlink(_ slot: Int) {
        let (newer, older) = (slots[slot]!.newer, slots[slot]!.older)
        if newer >= 0 { slots[newer]!.older = older } else { newest = older }
        if older >= 0 { slots[older]!.newer = newer } else { oldest = newer }
        slots[slot]!.newer = -1
        slots[slot]!.older = -1
    }

    private mutating func pushNewest(_ slot: Int) {
        slots[slot]!.older = newest
        slots[slot]!.newer = -1
        if newest >= 0 { slots[newest]!.newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }
}

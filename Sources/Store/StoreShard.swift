/// One of the N parts a job's tenants are split into, as a store's statements see it: shard `index` (1...`count`)
/// holds the tenants whose hash is `index - 1` modulo `count`, the hash being the first 8 bytes of SHA-256 of
/// the tenant id's UTF-8 bytes read as an unsigned big-endian integer. It is the rule of `TenantShard`
/// (Custody, README "Shards"), which makes these values; the store only carries it into SQL, and a test
/// pins that the server's arithmetic agrees with `TenantShard` for many tenants.
public struct StoreShard: Sendable, Hashable {
    /// K, from 1 to ``count``.
    public let index: Int
    /// N, at least 1.
    public let count: Int

    /// Every tenant (1/1).
    public static let whole = StoreShard(index: 1, count: 1)

    /// Shard `index` of `count`; the caller checks 1 <= index <= count (``TenantShard`` does).
    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Whether this is every tenant.
    public var isWhole: Bool { count <= 1 }
}

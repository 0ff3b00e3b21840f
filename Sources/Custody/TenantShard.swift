import Crypto

/// One of the N parts a job's tenants are split into (`tokenkeeper run --shard K/N`), so N CI jobs
/// share one run: each covers only the tenants whose stable hash falls in its shard.
///
/// The hash is fixed and documented (README "Shards"), the same on every host and in every release:
/// the first 8 bytes of SHA-256 of the tenant id's UTF-8 bytes, read as an unsigned big-endian
/// integer, modulo N; shard K takes the tenants whose remainder is K-1. A change to it would move
/// tenants between the shards of a running pipeline, so tests pin it with fixed vectors. It depends
/// on the tenant only (never on a user, a provider or a row id), so every row of a tenant is in the
/// tenant's shard and a tenant's crypto-shredding and rotation stay one shard's work.
public struct TenantShard: Sendable, Hashable, CustomStringConvertible {
    /// K, from 1 to ``count``.
    public let index: Int
    /// N, at least 1.
    public let count: Int

    /// The whole job, unsharded (1/1).
    public static let whole = TenantShard(uncheckedIndex: 1, count: 1)

    /// Shard `index` of `count`, or nil unless 1 <= index <= count.
    public init?(index: Int, count: Int) {
        guard count >= 1, (1...count).contains(index) else { return nil }
        self.init(uncheckedIndex: index, count: count)
    }

    private init(uncheckedIndex index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// Reads `K/N` (`--shard 2/4`), or nil when it is not two whole numbers with 1 <= K <= N <= 1,000.
    public init?(parsing text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2,
            parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let index = Int(parts[0]), let count = Int(parts[1]), count <= Self.maximumCount
        else { return nil }
        self.init(index: index, count: count)
    }

    /// The most shards a job may be split into.
    public static let maximumCount = 1_000

    /// Whether this is the whole job (N = 1).
    public var isWhole: Bool { count == 1 }

    /// `K/N`.
    public var description: String { "\(index)/\(count)" }

    /// `-K-of-N` for report file names; empty for the whole job.
    public var fileSuffix: String { isWhole ? "" : "-\(index)-of-\(count)" }

    /// Whether `tenant` is in this shard.
    public func contains(_ tenant: String) -> Bool {
        isWhole || Self.index(of: tenant, count: count) == index
    }

    /// The shard (1...count) that `tenant` falls in: SHA-256 of its UTF-8, first 8 bytes big-endian, mod count, plus 1.
    public static func index(of tenant: String, count: Int) -> Int {
        precondition(count >= 1, "a job has at least one shard")
        let digest = SHA256.hash(Array(tenant.utf8))
        let prefix = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Int(prefix % UInt64(count)) + 1
    }

    /// This shard's part of a rate meant for the whole job (`max_rate`): rate / N, so N shards together
    /// never go faster than the job's rate. Nil (no limit) stays nil.
    public func share(of rate: Double?) -> Double? {
        rate.map { $0 / Double(count) }
    }
}

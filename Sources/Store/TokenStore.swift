import Foundation
import Support

/// The token store as tokenkeeper uses it: one row per (tenant, user, provider) holding a sealed
/// refresh token and the bookkeeping refresh needs. ``SQLiteTokenStore`` is the embedded backend and
/// ``PostgresTokenStore`` the server backend;
/// every stage, the runner, the custodian, token use and `status` hold `any TokenStore`, so another
/// backend plugs in here, and `StoreConformanceTests` (Tests/TokenKeeperTests/Conformance) is the
/// suite each backend must pass.
///
/// The contract every conformer keeps:
/// - It never encrypts or decrypts: it keeps the sealed bytes the custodian gives it, and never puts
///   a bound value (a sealed token, a wrapped data key) into an error.
/// - Envelope format: a row's token is sealed under its own data key, whose wrapped form
///   (``StoredToken/wrappedKey``) the store keeps apart from the token in a narrow table with the row's
///   identity, so a rotation reads and rewrites only those few bytes (``scanDataKeys(afterID:limit:_:)``,
///   ``replaceDataKeys(_:rows:)``). A row written without a wrapped key is in the old format (sealed directly
///   under a tenant key); both are read until the migration (``oldFormatRows(tenant:afterID:limit:)``,
///   ``replaceSealedTokens(_:now:)``) is done. A row's token and its wrapped key change together, in one
///   transaction, always; the row's ``StoredToken/keyVersion`` is the one that wraps its data key.
/// - Atomicity (I3): each mutating call is one transaction; a crash leaves the row as it was or as
///   the call left it. ``replacingSealedTokensInOneTransaction(now:_:)`` commits all its batches or none.
/// - Nothing lost (I1): the per-version counts (``keyVersionCounts(tenant:)``) change in the same
///   transaction as every write that inserts or deletes a token or moves it to another version, so a
///   version with a count above zero is never reported unused.
/// - Compare-and-set: rewraps apply only to rows still on the version they were read with, and never
///   put a token back into a row whose token was dropped; refresh commits apply only while the lease
///   is held (I7, I8).
/// - Read-only (I5): a store opened read-only refuses every write and stays byte-identical.
/// - A conformer is not `Sendable`: it is one session (connection). ``openSession()`` gives another
///   on the same store for another thread (the rotation's reader, the refresh workers).
public protocol TokenStore: AnyObject {
    /// Where the store is, for messages: a file path, never a secret (no password, no connection string).
    var location: String { get }
    /// Whether this session refuses writes (dry runs, `status`).
    var isReadOnly: Bool { get }
    /// Who the store is: written once when it was created, kept by copies. The vault records the
    /// identity of the store it serves, so a missing or swapped store is refused (I1).
    var identity: StoreIdentity { get }
    /// Another session on the same store, read-write unless this one is read-only, for use on another
    /// thread. Its writes are visible to this session once committed.
    func openSession() throws -> any TokenStore

    // MARK: Single rows

    /// Inserts the row, or replaces every field of the row with the same key. Returns whether it was new.
    @discardableResult func put(_ token: StoredToken) throws -> Bool
    /// The row for `key`, or nil.
    func get(_ key: TokenKey) throws -> StoredToken?
    /// Deletes the row for `key`. Returns whether there was one.
    @discardableResult func delete(_ key: TokenKey) throws -> Bool
    /// Drops the refresh token but keeps the record, with status `revoked`. Returns whether a token was dropped.
    @discardableResult func dropRefreshToken(_ key: TokenKey, now: Date) throws -> Bool
    /// Marks a row `needs_reauth` with the provider's error code. Returns whether the row exists.
    @discardableResult func markNeedsReauth(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool
    /// Marks a row `needs_reauth` only while it still holds `deadToken` (the sealed token found dead or in
    /// doubt), so a late answer about an old token never condemns a newer one. Returns whether it changed.
    @discardableResult func markNeedsReauth(
        _ key: TokenKey, errorCode: String?, now: Date, ifStillHolding deadToken: [UInt8]
    )
        throws -> Bool
    /// Records a failed refresh that leaves the token usable. Returns whether the row exists.
    @discardableResult func recordFailure(_ key: TokenKey, errorCode: String?, now: Date) throws -> Bool
    /// Deletes every row of a tenant (crypto-shredding's store half). Returns how many went.
    @discardableResult func deleteTenant(_ tenant: String) throws -> Int
    /// Puts many rows in one transaction, each as ``put(_:)`` does (insert, or replace every field):
    /// all of them or none. Returns, per row, whether it was new.
    func putBatch(_ tokens: [StoredToken]) throws -> [Bool]
    /// Inserts many new rows in one transaction; an existing key fails the whole batch. Returns how many.
    @discardableResult func insertBatch(_ tokens: [StoredToken]) throws -> Int

    // MARK: Queries

    /// Every distinct tenant with rows, sorted.
    func tenants() throws -> [String]
    /// Every row of a tenant, with or without a token.
    func count(tenant: String) throws -> Int
    /// How many rows the store holds.
    func count() throws -> Int
    /// Whether any row holds a token.
    func holdsTokens() throws -> Bool
    /// Rows of `tenant` holding a token sealed with the secret `secret`.
    func tokenCount(tenant: String, secret: String) throws -> Int
    /// Every tenant with rows that hold a token, sorted.
    func tenantsHoldingTokens() throws -> [String]
    /// Rows of a tenant per status.
    func statusCounts(tenant: String) throws -> [TokenStatus: Int]
    /// The oldest refresh time among a tenant's rows that still hold a token.
    func oldestRefresh(tenant: String) throws -> Date?
    /// Streams rows matching the filters (nil means any), ordered by tenant, user, provider; `body`
    /// stops the walk by returning false. Memory does not grow with the store.
    func forEach(
        tenant: String?, user: String?, provider: String?, status: TokenStatus?,
        _ body: (StoredToken) throws -> Bool) throws
    /// Up to `limit` active, unleased rows of `provider` holding a token that are due for refresh,
    /// keyset-paginated by id after `afterID`.
    func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int
    ) throws -> [StoredToken]
    /// How many rows ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)`` would give in all.
    func countDueForRefresh(provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date) throws -> Int
    /// ``rowsDueForRefresh(provider:refreshedBefore:expiringBefore:now:afterID:limit:)`` for one shard of the
    /// tenants: a store that can judge the tenant hash in its statement (PostgreSQL) reads only the shard's
    /// rows, so a shard never reads another's; any other store may give rows of every shard (the default),
    /// and callers keep only the shard's rows either way.
    func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int, shard: StoreShard
    ) throws -> [StoredToken]

    // MARK: Leases (I7) and the refresh commit (I8)

    /// Takes the lease on `key` for `owner` until `until` if nobody else holds one at `now`. Returns whether it did.
    func acquireLease(_ key: TokenKey, owner: String, until: Date, now: Date) throws -> Bool
    /// Releases `owner`'s lease on `key`; does nothing if someone else holds it.
    func releaseLease(_ key: TokenKey, owner: String) throws
    /// Stores a refreshed token while `owner` holds the lease, clears the lease and the failure state,
    /// in one transaction. Returns false, writing nothing, when the lease was lost, or when the row holds a
    /// token of a newer key version than `keyVersion` (a rotation rewrapped it meanwhile: a commit never
    /// moves a row back to an older version, which a rotation may be retiring, I1). Durable against a
    /// crash of the process when it returns; ``syncCommits()`` makes it durable against a power cut.
    /// `wrappedKey` is the new token's wrapped data key (nil: the old format, for tests of old stores).
    func commitRefreshed(
        _ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
        wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool

    /// Stores a refreshed token after the lease was lost, only if the row still holds `startedFrom`
    /// (compare-and-set on the sealed token); clears the lease only if it is still `owner`'s. Returns
    /// whether it stored it.
    func commitRefreshed(
        _ key: TokenKey, replacing startedFrom: [UInt8], owner: String, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], wrappedKey: [UInt8]?, refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool

    /// Returns once every transaction this process committed to the store is durable against a power
    /// cut (I8: a rotated refresh token the provider gave is never lost). Callers that wait at once may
    /// share one sync. Safe to call from any task.
    func syncCommits() async throws

    // MARK: Key versions and rotation (I1)

    /// Rows of a tenant that hold a token, per key version (versions without such rows are absent).
    func keyVersionCounts(tenant: String) throws -> [Int: Int]
    /// ``keyVersionCounts(tenant:)`` of each of `tenants` (tenants without rows absent): rotation plans
    /// from it, one query on a server instead of one round trip per tenant.
    func keyVersionCounts(tenants: [String]) throws -> [String: [Int: Int]]
    /// Up to `limit` rows of `tenant` holding a token sealed with a version other than `target`, after
    /// (user, provider) `after`, in that order.
    func sealedRows(tenant: String, notOn target: Int, after: (user: String, provider: String), limit: Int) throws
        -> [SealedRow]
    /// Up to `scanLimit` rows after `afterID` in id order that `wanted(tenant, keyVersion)` selects and
    /// that hold a token, and the last id looked at (nil at the end).
    func sealedRows(afterID: Int64, scanLimit: Int, where wanted: (String, Int) -> Bool) throws -> (
        rows: [SealedRow], lastID: Int64?
    )
    /// Writes a batch of new sealed tokens (migrations to the envelope format, reseals) in one transaction,
    /// compare-and-set per row on the version and wrapped key read; each row's wrapped key changes with
    /// its token. Returns how many changed.
    @discardableResult func replaceSealedTokens(_ updates: [SealedTokenUpdate], now: Date) throws -> Int
    /// Several batches of rewrapped tokens in one transaction: `body` gets a function that applies one
    /// batch and says which rows changed.
    func replacingSealedTokensInOneTransaction<T>(
        now: Date, _ body: (_ apply: ([SealedTokenUpdate]) throws -> [Bool]) throws -> T
    ) throws -> T
    /// Runs `body`, a long run of write batches, with whatever setting makes bulk writes cheaper on this
    /// backend (SQLite: a larger WAL checkpoint interval); a backend without one just runs `body`.
    func withCheckpointInterval<T>(pages: Int, _ body: () throws -> T) throws -> T
    /// Whether a write transaction makes every other writer of the store wait until it commits (SQLite's
    /// one write lock), so a long run of batches must keep each transaction short for token use
    /// (point 3 of issue 14). False where writers lock only the rows they change (PostgreSQL): there each
    /// transaction's commit waits for the log's flush, and larger ones pay it less often.
    var writersWaitForEachOther: Bool { get }
    /// Runs `body`, a long run of inserts and replacements spread over the whole key space (`token
    /// import`), with whatever makes them cheaper on this backend (SQLite: an 8 MiB page cache instead of
    /// its default 2 MiB, so the unique key's pages stay in memory, and fewer checkpoints); a backend
    /// without one just runs it.
    func withBulkLoad<T>(_ body: () throws -> T) throws -> T
    /// Calls `visit` for up to `limit` rows of the narrow table of wrapped data keys after `afterID`, in row
    /// id order, and returns the last id visited (nil at the end). Reads the narrow table only, never a
    /// token. The view's bytes are valid only inside `visit` (the rotation's hot path: no allocation per row).
    func scanDataKeys(afterID: Int64, limit: Int, _ visit: (DataKeyRowView) throws -> Void) throws -> Int64?
    /// Writes the rows `rows` of `batch` in one short transaction (the rotation's hot path),
    /// compare-and-set per row on the version and wrapped bytes read, moving the per-version counts with
    /// them (I1). Says per row of `rows` whether it applied.
    func replaceDataKeys(_ batch: DataKeyRewrapBatch, rows: Range<Int>) throws -> [Bool]
    /// Rows in the old format that hold a token, per tenant: what the migration still has to do. Cheap
    /// once the migration is done (no scan of the tokens).
    func oldFormatCounts() throws -> [String: Int]
    /// ``oldFormatCounts()`` split by key version (`tenant -> version -> rows`), so a rotation's plan counts
    /// each row once: a row to migrate is not also a row to rewrap. Reaches only the old-format rows
    /// (their partial index, then each row's version): nothing to read once the migration is done.
    func oldFormatCountsByVersion() throws -> [String: [Int: Int]]
    /// Up to `limit` rows of `tenant` in the old format holding a token, after `afterID` in id order.
    func oldFormatRows(tenant: String, afterID: Int64, limit: Int) throws -> [SealedRow]
    /// Copies what it can of the store's log into its main file without making writers wait (SQLite: a
    /// PASSIVE checkpoint); a backend without such a log does nothing. Rotation calls it between batches
    /// so the log stays small and the final ``makeDurable()`` short.
    func checkpoint() throws
    /// Makes every committed transaction durable against power loss. Rotation calls it before it
    /// disables or purges a version (I1). Throws ``StoreError/notDurable(path:)`` when it cannot yet.
    func makeDurable() throws

    // MARK: Moving state (`state copy`, ``CopiedTokenRow``)

    /// The mark `state copy` left on the store (``StateMark``), read now; nil for a store in use. A store
    /// marked `moved` does not open at all; one marked `frozen` or `receiving` refuses to take a lease, a
    /// commit unless its lease is still live, and every insert, replacement and deletion, each with
    /// ``StateMarkError``, in the same transaction that would have written.
    func stateMark() throws -> StateMark?
    /// Sets the mark, or clears it with nil, in one transaction.
    func setStateMark(_ mark: StateMark?) throws
    /// How many rows hold a lease that has not ended at `now` (by the store's clock, as leases are judged):
    /// a copy starts reading only once none does, so no refresh under way commits behind it.
    func liveLeaseCount(now: Date) throws -> Int
    /// Up to `limit` whole rows after `after` (nil: from the first) in (tenant, user, provider) order,
    /// with or without a token, sealed bytes as stored: never opened.
    func copyRows(after: TokenKey?, limit: Int) throws -> [CopiedTokenRow]
    /// Writes copied rows in one transaction, each inserted or replacing the row with its key (so a
    /// resumed copy writes the same rows again), with the per-version counts. Only into a store marked
    /// `receiving`, else ``StoreError/notReceiving(path:)``: never over a store in use. Returns how many.
    @discardableResult func insertCopiedRows(_ rows: [CopiedTokenRow]) throws -> Int
}

extension TokenStore {
    /// Every shard's due rows: the store cannot judge the tenant hash (see the requirement).
    public func rowsDueForRefresh(
        provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        afterID: Int64, limit: Int, shard: StoreShard
    ) throws -> [StoredToken] {
        try rowsDueForRefresh(
            provider: provider, refreshedBefore: refreshedBefore, expiringBefore: expiringBefore, now: now,
            afterID: afterID, limit: limit)
    }

    /// One ``keyVersionCounts(tenant:)`` per tenant (a local store reads each from its small table at once).
    public func keyVersionCounts(tenants: [String]) throws -> [String: [Int: Int]] {
        var counts: [String: [Int: Int]] = [:]
        for tenant in tenants {
            let tenantCounts = try keyVersionCounts(tenant: tenant)
            if !tenantCounts.isEmpty { counts[tenant] = tenantCounts }
        }
        return counts
    }

    /// The key versions some row of the tenant still uses. Rotation never purges one of these (I1).
    public func referencedVersions(tenant: String) throws -> Set<Int> { Set(try keyVersionCounts(tenant: tenant).keys) }

    /// ``forEach(tenant:user:provider:status:_:)`` with every filter optional.
    public func forEach(
        tenant: String? = nil, user: String? = nil, provider: String? = nil, status: TokenStatus? = nil,
        _ body: (StoredToken) throws -> Bool
    ) throws {
        try forEach(tenant: tenant, user: user, provider: provider, status: status, body)
    }

    /// ``dropRefreshToken(_:now:)`` now.
    @discardableResult public func dropRefreshToken(_ key: TokenKey) throws -> Bool {
        try dropRefreshToken(key, now: Date())
    }
    /// ``markNeedsReauth(_:errorCode:now:)`` now.
    @discardableResult public func markNeedsReauth(_ key: TokenKey, errorCode: String?) throws -> Bool {
        try markNeedsReauth(key, errorCode: errorCode, now: Date())
    }
    /// ``acquireLease(_:owner:until:now:)`` now.
    public func acquireLease(_ key: TokenKey, owner: String, until: Date) throws -> Bool {
        try acquireLease(key, owner: owner, until: until, now: Date())
    }
    /// ``commitRefreshed(_:owner:secretName:keyVersion:sealedToken:wrappedKey:refreshedAt:expiresAt:)`` of a
    /// token in the old format (tests of stores an older tokenkeeper wrote).
    public func commitRefreshed(
        _ key: TokenKey, owner: String, secretName: String, keyVersion: Int, sealedToken: [UInt8],
        refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try commitRefreshed(
            key, owner: owner, secretName: secretName, keyVersion: keyVersion, sealedToken: sealedToken,
            wrappedKey: nil, refreshedAt: refreshedAt, expiresAt: expiresAt)
    }
    /// The compare-and-set commit of a token in the old format (tests of stores an older tokenkeeper wrote).
    public func commitRefreshed(
        _ key: TokenKey, replacing startedFrom: [UInt8], owner: String, secretName: String, keyVersion: Int,
        sealedToken: [UInt8], refreshedAt: Date, expiresAt: Date?
    ) throws -> Bool {
        try commitRefreshed(
            key, replacing: startedFrom, owner: owner, secretName: secretName, keyVersion: keyVersion,
            sealedToken: sealedToken, wrappedKey: nil, refreshedAt: refreshedAt, expiresAt: expiresAt)
    }
    /// ``replaceSealedTokens(_:now:)`` now.
    @discardableResult public func replaceSealedTokens(_ updates: [SealedTokenUpdate]) throws -> Int {
        try replaceSealedTokens(updates, now: Date())
    }
}

/// Opens further sessions on one store, from any thread: what the refresh workers and the rotation's
/// reader hold instead of a path, so they work on whatever backend the job opened.
///
/// `@unchecked Sendable`: it only calls ``TokenStore/openSession()``, which every conformer must make
/// safe from any thread (it reads nothing but the store's fixed location and settings).
public struct TokenStoreSessions: @unchecked Sendable {
    private let origin: any TokenStore

    /// Sessions on the store `origin` is a session of.
    public init(_ origin: any TokenStore) {
        self.origin = origin
    }

    /// A new session on the store.
    public func open() throws -> any TokenStore {
        try origin.openSession()
    }
}

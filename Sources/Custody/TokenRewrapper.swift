import Crypto
import Foundation
import Store
import Support

/// Moves every token of the prepared tenants to its tenant's newest key version: the hot path of rotation.
///
/// Tenants are first ``prepare(tenant:target:oldVersions:)``d (their keys fetched once, so a key the
/// principal may not read fails the tenant, not every row). Then ``rewrapAll(reseal:now:onBatch:onRewrapped:onFailure:)``
/// runs up to three walks, batch by batch, each batch one short write transaction with compare-and-set
/// per row:
/// 1. the migration: rows an older tokenkeeper sealed directly under a tenant key are opened and sealed
///    again under a fresh data key (DEK) wrapped by the target version (``Envelope``);
/// 2. the rewrap: each DEK on an older version is unwrapped and wrapped again under the target, reading
///    and writing only the store's narrow table of wrapped keys, never a token (60 bytes per row instead
///    of 1.2 KB); or, with `reseal`, in place of both
/// 3. the reseal: every token (either format) is opened and sealed again under a fresh DEK (the full
///    rewrite, for when DEKs or ciphertexts may have been exposed).
///
/// A crash between batches leaves every row on either version, both still in the vault (I1, I3), so the
/// next run goes on where this one stopped. A row that does not open is reported and left as it is; the
/// walk goes on. Plaintext and unwrapped DEKs live in reused buffers that are wiped at the end; AES
/// contexts and associated-data buffers are reused across rows.
///
/// Point 3 of issue 14: token use waits for the store at most as long as one of the walk's write
/// transactions or checkpoints, so the walk times each of them (``timings``) and has the log checkpointed
/// PASSIVEly between batches (on a thread of its own: a PASSIVE checkpoint blocks no writer, so the walk
/// does not wait for it), so the durable checkpoint before versions are retired has little left.
package final class TokenRewrapper {
    /// Where rows and keys come from.
    package let custodian: TokenCustodian
    /// Rows per transaction.
    package let batchSize: Int
    private var tenants: [String: TenantKeys] = [:]

    private final class TenantKeys {
        let target: Int
        /// A context per version this run may open or wrap with, the target's included.
        let contexts: [Int: AESGCMContext]
        /// The target's context.
        let sealer: AESGCMContext

        init(target: Int, contexts: [Int: AESGCMContext]) {
            self.target = target
            self.contexts = contexts
            sealer = contexts[target]!
        }
    }

    /// Microseconds the walk leaves the store's write lock free after each of its transactions where
    /// writers wait for each other (SQLite): a writer of token use waiting for the lock tries again every
    /// millisecond (`SQLiteConnection`), so it gets its turn within one transaction of the walk instead of
    /// waiting behind all of them (the walk's writer otherwise takes the lock again a moment after each
    /// commit: a `token access` once waited 1.7 s behind a 1.8 s rotation). About 0.75 s of a
    /// million-row rotation's 500 transactions.
    static let gapForOtherWriters: UInt32 = 1_500

    /// Rows written (estimated in 4 KiB pages) after which a PASSIVE checkpoint runs: an eighth of SQLite's
    /// own automatic interval (1,000 pages), so each copies half a megabyte or so and lasts well under the
    /// 50 ms of point 3 of issue 14 (at 500 pages the longest of a million-row rotation reached 58 ms quiet
    /// and 110-120 ms under load; at 128, 39-47 ms under the same load), and the log restarts long before
    /// a commit of token use would find it long enough to checkpoint it itself (and make its caller wait).
    static let checkpointPages = 128

    /// What a walk did for one tenant.
    package struct Outcome: Equatable {
        /// Rows whose data key is now wrapped by the new version.
        package var rewrapped = 0
        /// Rows moved from the old format to the envelope format (on the new version).
        package var migrated = 0
        /// Rows sealed again under a fresh data key (`reseal: true`).
        package var resealed = 0
        /// Rows left as they were because they did not open or seal.
        package var failed = 0

        /// Nothing done, nothing failed.
        package init() {}
    }

    /// How long the walk held the store: its write transactions and its checkpoints.
    package struct Timings: Equatable, Sendable {
        /// Write transactions committed.
        package var transactions = 0
        /// The longest write transaction, in seconds (from BEGIN to COMMIT).
        package var longestTransaction: TimeInterval = 0
        /// All write transactions together, in seconds.
        package var totalTransactions: TimeInterval = 0
        /// Checkpoints run.
        package var checkpoints = 0
        /// The longest checkpoint, in seconds.
        package var longestCheckpoint: TimeInterval = 0
        /// All checkpoints together, in seconds.
        package var totalCheckpoints: TimeInterval = 0

        /// Nothing timed yet.
        package init() {}

        /// Adds one transaction's duration.
        package mutating func transaction(_ seconds: TimeInterval) {
            transactions += 1
            longestTransaction = max(longestTransaction, seconds)
            totalTransactions += seconds
        }

        /// Adds one checkpoint's duration.
        package mutating func checkpoint(_ seconds: TimeInterval) {
            checkpoints += 1
            longestCheckpoint = max(longestCheckpoint, seconds)
            totalCheckpoints += seconds
        }
    }

    /// The walk's write transactions and checkpoints so far.
    package private(set) var timings = Timings()

    /// Creates a rewrapper.
    package init(custodian: TokenCustodian, batchSize: Int) {
        self.custodian = custodian
        self.batchSize = max(1, batchSize)
    }

    /// Fetches the keys `tenant`'s rows need: the target version's and each old version's.
    /// - throws: vault errors (missing permission, a version that is gone); the tenant is then not walked.
    package func prepare(tenant: String, target: Int, oldVersions: [Int]) throws {
        var contexts: [Int: AESGCMContext] = [:]
        for version in Set(oldVersions + [target]) {
            contexts[version] = try custodian.context(secret: tenant, version: version)
        }
        tenants[tenant] = TenantKeys(target: target, contexts: contexts)
    }

    /// Whether any tenant was prepared.
    package var hasTenants: Bool { !tenants.isEmpty }

    /// Runs `body` and returns its result with how long it took, on a monotonic clock.
    static func timed<T>(_ body: () throws -> T) rethrows -> (T, TimeInterval) {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try body()
        return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }

    // MARK: - The walks

    /// One batch prepared by the producer thread, ready to write.
    private struct Batch {
        var tokens: [SealedTokenUpdate] = []
        /// The rewrap walk's data keys (kind `.rewrap`), in flat buffers.
        var dataKeys = DataKeyRewrapBatch(tenants: [])
        var keys: [TokenKey] = []
        var failures: [(key: TokenKey, error: any Error)] = []
        var rowCount = 0
        var kind = Kind.rewrap

        enum Kind { case migrate, rewrap, reseal }

        /// Bytes of the pages the batch writes, roughly: a token row is about 1.3 KB, a data key row 150 bytes.
        var estimatedPages: Int { (tokens.count * 1_300 + dataKeys.count * 150) / 4_096 + 1 }
    }

    /// Moves every row of the prepared tenants to its tenant's target version: migrates rows in the old
    /// format, then rewraps the data keys on older versions (or, with `reseal`, seals every token again
    /// under a fresh data key).
    ///
    /// Two threads share the work: a producer with its own read session walks the rows and does the
    /// cryptography for each batch, while the calling thread writes the batch before it. Keys and buffers
    /// are used by the producer only; the store session by the caller only.
    /// - Parameters:
    ///   - reseal: seal every token again under a fresh data key instead of rewrapping data keys.
    ///   - migrateOnly: only move rows in the old format to envelope encryption (`state migrate`).
    ///   - onBatch: called after each committed batch with the number of rows it handled.
    ///   - onRewrapped: called for each row moved, when the report lists items (nil otherwise, for speed).
    ///   - onFailure: called for each row that could not be moved, with the reason.
    /// - Returns: per tenant, what was done.
    /// - throws: store errors (a batch that cannot be read or committed); the batches committed before stay committed.
    package func rewrapAll(
        reseal: Bool = false, migrateOnly: Bool = false, now: Date, onBatch: (Int) -> Void,
        onRewrapped: ((TokenKey) -> Void)? = nil,
        onFailure: (TokenKey, any Error) -> Void
    ) throws -> [String: Outcome] {
        let queue = BatchQueue<Batch>(capacity: 2)
        let producer = ProducerBox(
            rewrapper: self, sessions: TokenStoreSessions(custodian.store), listItems: onRewrapped != nil,
            reseal: reseal, migrateOnly: migrateOnly)
        Thread.detachNewThread { producer.run(into: queue) }
        defer {
            queue.cancel()
            queue.waitUntilFinished()
        }
        var outcomes: [String: Outcome] = [:]
        let store = custodian.store
        // A data key row is about 150 bytes, a token row 1.3 KB: a transaction of tokens starts smaller.
        var dataKeyChunk = ChunkSize.first(dataKeys: true, batchSize: batchSize, store: store)
        var tokenChunk = ChunkSize.first(dataKeys: false, batchSize: batchSize, store: store)
        // Checkpoints run on the checkpointer's thread, timed, instead of inside a commit at SQLite's
        // automatic interval.
        try store.withCheckpointInterval(pages: 1_000_000) {
            var pagesSinceCheckpoint = 0
            let checkpointer = BackgroundCheckpointer(sessions: TokenStoreSessions(store))
            var finished = false
            defer { if !finished { _ = try? checkpointer.finish() } }
            while let batch = try queue.take() {
                for failure in batch.failures {
                    outcomes[failure.key.tenant, default: Outcome()].failed += 1
                    onFailure(failure.key, failure.error)
                }
                // Rows changed meanwhile (a refresh committed a newer token) are skipped by the compare-and-set.
                var changed: [Bool] = []
                let count = batch.kind == .rewrap ? batch.dataKeys.count : batch.tokens.count
                var start = 0
                while start < count {
                    // Each transaction as long as keeps it short (point 3), whatever the batch size.
                    let end = min(count, start + (batch.kind == .rewrap ? dataKeyChunk.rows : tokenChunk.rows))
                    let part: [Bool]
                    let seconds: TimeInterval
                    if batch.kind == .rewrap {
                        (part, seconds) = try Self.timed {
                            try store.replaceDataKeys(batch.dataKeys, rows: start..<end)
                        }
                        dataKeyChunk.adapt(rows: end - start, seconds: seconds)
                    } else {
                        let updates = start == 0 && end == count ? batch.tokens : Array(batch.tokens[start..<end])
                        (part, seconds) = try Self.timed {
                            try store.replacingSealedTokensInOneTransaction(now: now) { apply in try apply(updates) }
                        }
                        tokenChunk.adapt(rows: end - start, seconds: seconds)
                    }
                    timings.transaction(seconds)
                    changed += part
                    start = end
                    if store.writersWaitForEachOther { usleep(Self.gapForOtherWriters) }
                }
                if batch.kind == .rewrap {
                    // Tallied per tenant number, then once per tenant: no name hashed per row.
                    var rewrapped = [Int](repeating: 0, count: batch.dataKeys.tenants.count)
                    for (index, didChange) in changed.enumerated() where didChange {
                        rewrapped[Int(batch.dataKeys.tenantNumbers[index])] += 1
                        if let onRewrapped { onRewrapped(batch.keys[index]) }
                    }
                    for (number, rows) in rewrapped.enumerated() where rows > 0 {
                        outcomes[batch.dataKeys.tenants[number], default: Outcome()].rewrapped += rows
                    }
                } else {
                    for (index, didChange) in changed.enumerated() where didChange {
                        let tenant = batch.tokens[index].tenant
                        if batch.kind == .migrate {
                            outcomes[tenant, default: Outcome()].migrated += 1
                        } else {
                            outcomes[tenant, default: Outcome()].resealed += 1
                        }
                        if let onRewrapped { onRewrapped(batch.keys[index]) }
                    }
                }
                onBatch(batch.rowCount)
                pagesSinceCheckpoint += batch.estimatedPages
                if pagesSinceCheckpoint >= Self.checkpointPages {
                    checkpointer.request()
                    pagesSinceCheckpoint = 0
                }
            }
            finished = true
            for seconds in try checkpointer.finish() { timings.checkpoint(seconds) }
            // What the last batches wrote, so the durable checkpoint that may follow has little to copy.
            if pagesSinceCheckpoint > 0 { try checkpoint() }
        }
        return outcomes
    }

    /// How many rows one write transaction takes: the batch size at most, and fewer while transactions
    /// run longer than ``target`` (a slow or busy disk, a loaded machine), so token use, which waits for
    /// the store's write lock, never waits long (point 3 of issue 14).
    struct ChunkSize {
        /// The duration each write transaction aims at, well under the 50 ms token use may wait.
        static let target: TimeInterval = 0.015
        /// Rows in the next transaction.
        private(set) var rows: Int
        /// The most rows a transaction takes (the batch size).
        let limit: Int
        /// Whether transactions shrink when they run long; false where other writers do not wait for them.
        let adapts: Bool

        init(rows: Int, limit: Int, adapts: Bool = true) {
            self.limit = max(1, limit)
            self.rows = min(max(1, rows), self.limit)
            self.adapts = adapts
        }

        /// The size of a walk's first transaction on `store` (of data key rows, or of token rows). Where a write transaction holds up every other
        /// writer (SQLite), a transaction of token rows (1.3 KB each) starts at an eighth of the batch, and
        /// every size adapts. Where it holds up only the rows it changes (PostgreSQL), whole batches, always:
        /// each commit waits for the log's flush, and transactions shrunk to 15 ms made a rotation mostly
        /// flushes.
        static func first(dataKeys: Bool, batchSize: Int, store: any TokenStore) -> ChunkSize {
            guard store.writersWaitForEachOther else {
                return ChunkSize(rows: batchSize, limit: batchSize, adapts: false)
            }
            return ChunkSize(rows: dataKeys ? batchSize : max(1, batchSize / 8), limit: batchSize)
        }

        /// Sizes the next transaction from how long the last one, of `rows` rows, took.
        mutating func adapt(rows written: Int, seconds: TimeInterval) {
            guard adapts, written > 0, seconds > 0 else { return }
            let fitting = Double(written) * Self.target / seconds
            // Shrink at once when a transaction ran long; grow by at most half when it was quick.
            let next = fitting < Double(rows) ? fitting : min(fitting, Double(rows) * 1.5)
            rows = min(limit, max(8, Int(next)))
        }
    }

    /// A timed PASSIVE checkpoint of the store.
    private func checkpoint() throws {
        let ((), seconds) = try Self.timed { try custodian.store.checkpoint() }
        timings.checkpoint(seconds)
    }

    /// Makes the store durable (the checkpoint before versions are disabled or purged, I1), timed with the
    /// walk's checkpoints.
    package func makeDurable() throws {
        let ((), seconds) = try Self.timed { try custodian.store.makeDurable() }
        timings.checkpoint(seconds)
    }

    /// The producer's side: everything it needs, handed to its thread once.
    ///
    /// `@unchecked Sendable`: the rewrapper's keys are used by the producer thread alone while the walk
    /// runs (the caller touches only its own store session until the producer has finished).
    private final class ProducerBox: @unchecked Sendable {
        let rewrapper: TokenRewrapper
        let sessions: TokenStoreSessions
        let listItems: Bool
        let reseal: Bool
        let migrateOnly: Bool

        init(
            rewrapper: TokenRewrapper, sessions: TokenStoreSessions, listItems: Bool, reseal: Bool, migrateOnly: Bool
        ) {
            self.rewrapper = rewrapper
            self.sessions = sessions
            self.listItems = listItems
            self.reseal = reseal
            self.migrateOnly = migrateOnly
        }

        func run(into queue: BatchQueue<Batch>) {
            var buffers = Buffers()
            defer { buffers.wipe() }
            do {
                let reader = try sessions.open()
                if reseal {
                    // The reseal walk takes rows of both formats: a migration first would seal them twice.
                    try rewrapper.reseal(reader, buffers: &buffers, listItems: listItems) { queue.put($0) }
                } else if try rewrapper.migrate(
                    reader, buffers: &buffers, listItems: listItems, send: { queue.put($0) }),
                    !migrateOnly
                {
                    try rewrapper.rewrapDataKeys(reader, buffers: &buffers, listItems: listItems) { queue.put($0) }
                }
                queue.finish(nil)
            } catch {
                queue.finish(error)
            }
        }
    }

    /// The producer's reused buffers: plaintext, associated data, a DEK, and its nonces. Wiped at the end.
    private struct Buffers {
        var plaintext = [UInt8](repeating: 0, count: 4_096)
        let nonces = NonceStream()
        var dataKey = [UInt8](repeating: 0, count: Envelope.dataKeyByteCount)
        var oldBinding: [UInt8] = []
        var newBinding: [UInt8] = []

        init() {
            oldBinding.reserveCapacity(256)
            newBinding.reserveCapacity(256)
        }

        mutating func wipe() {
            Support.wipe(&plaintext)
            Support.wipe(&dataKey)
        }
    }

    /// Walk 1: the rows still in the old format, per tenant through their partial index. Returns false
    /// when `send` was refused (the consumer stopped).
    private func migrate(
        _ store: any TokenStore, buffers: inout Buffers, listItems: Bool, send: (Batch) -> Bool
    ) throws -> Bool {
        let counts = try store.oldFormatCounts()
        for tenant in tenants.keys.sorted() where counts[tenant, default: 0] > 0 {
            var afterID: Int64 = 0
            while true {
                let rows = try store.oldFormatRows(tenant: tenant, afterID: afterID, limit: batchSize)
                guard let last = rows.last else { break }
                afterID = last.id
                var batch = Batch(kind: .migrate)
                resealTokens(rows, into: &batch, buffers: &buffers, listItems: listItems)
                if batch.rowCount > 0, !send(batch) { return false }
            }
        }
        return true
    }

    /// Walk 2: the wrapped data keys on an older version than their tenant's target, over the narrow table.
    /// Rows are read as the store's bytes and written into the batch's flat buffers: nothing is allocated
    /// per row except for a row that fails or an item the report lists.
    private func rewrapDataKeys(
        _ store: any TokenStore, buffers: inout Buffers, listItems: Bool, send: (Batch) -> Bool
    ) throws {
        var table = RewrapTenantTable(names: tenants.keys.sorted())
        let keysByNumber = table.names.map { tenants[$0]! }
        var afterID: Int64 = 0
        while true {
            var batch = Batch(kind: .rewrap)
            batch.dataKeys = DataKeyRewrapBatch(tenants: table.names, capacity: batchSize)
            let lastID = try store.scanDataKeys(afterID: afterID, limit: batchSize) { row in
                guard let number = table.number(of: row.tenant) else { return }
                let keys = keysByNumber[number]
                // A version this run has no key for (not in the counts when planned) stays for the next run.
                guard row.keyVersion != keys.target, let opener = keys.contexts[row.keyVersion] else { return }
                do {
                    try Self.rewrap(
                        row, tenant: number, opener: opener, sealer: keys.sealer, newVersion: keys.target,
                        into: &batch.dataKeys, buffers: &buffers)
                    if listItems { batch.keys.append(row.key) }
                } catch {
                    batch.failures.append((row.key, error))
                }
            }
            guard let lastID else { return }
            afterID = lastID
            batch.rowCount = batch.dataKeys.count + batch.failures.count
            guard batch.rowCount > 0 else { continue }
            if !send(batch) { return }
        }
    }

    /// Walk 3 (`reseal: true`): every token of the prepared tenants, in id order over the whole table,
    /// sealed again under a fresh data key wrapped by the target.
    private func reseal(_ store: any TokenStore, buffers: inout Buffers, listItems: Bool, send: (Batch) -> Bool) throws
    {
        var afterID: Int64 = 0
        while true {
            let (rows, lastID) = try store.sealedRows(afterID: afterID, scanLimit: batchSize) { tenant, version in
                self.tenants[tenant]?.contexts[version] != nil
            }
            guard let lastID else { return }
            afterID = lastID
            guard !rows.isEmpty else { continue }
            var batch = Batch(kind: .reseal)
            resealTokens(rows, into: &batch, buffers: &buffers, listItems: listItems)
            if !send(batch) { return }
        }
    }

    /// Opens each row's token (either format) and seals it under a fresh data key wrapped by its tenant's
    /// target: the updates for the rows that opened, failures for the rest.
    private func resealTokens(_ rows: [SealedRow], into batch: inout Batch, buffers: inout Buffers, listItems: Bool) {
        batch.rowCount = rows.count
        batch.tokens.reserveCapacity(rows.count)
        for row in rows {
            do {
                guard let keys = tenants[row.key.tenant] else { continue }
                let opener =
                    try row.secretName == row.key.tenant
                    ? keys.contexts[row.keyVersion]!
                    : custodian.context(secret: row.secretName, version: row.keyVersion)
                let (sealed, wrapped) = try Self.reseal(
                    row, opener: opener, sealer: keys.sealer, newVersion: keys.target, buffers: &buffers)
                batch.tokens.append(
                    SealedTokenUpdate(
                        id: row.id, tenant: row.key.tenant, expectedKeyVersion: row.keyVersion,
                        expectedWrappedKey: row.wrappedKey, newKeyVersion: keys.target, sealedToken: sealed,
                        wrappedKey: wrapped))
                if listItems { batch.keys.append(row.key) }
            } catch {
                batch.failures.append((row.key, error))
            }
        }
    }

    // MARK: - One row

    /// Unwraps one row's data key with the old version and appends it to `batch` wrapped with the new one,
    /// through the reused buffers: the token is never read.
    private static func rewrap(
        _ row: DataKeyRowView, tenant: Int, opener: AESGCMContext, sealer: AESGCMContext, newVersion: Int,
        into batch: inout DataKeyRewrapBatch, buffers: inout Buffers
    ) throws {
        let unreadable = { CustodyError.unreadable(row.key, secret: row.key.tenant, version: row.keyVersion) }
        guard row.wrappedKey.count == Envelope.wrappedKeyByteCount else { throw unreadable() }
        // The secret of a tenant's data keys is the tenant itself. The two bindings differ in the version only.
        TokenBinding.dataKeyRow(
            tenant: row.tenant, user: row.user, provider: row.provider, secret: row.tenant, into: &buffers.oldBinding)
        buffers.newBinding.removeAll(keepingCapacity: true)
        buffers.newBinding.append(contentsOf: buffers.oldBinding)
        TokenBinding.appendDataKeyVersion(row.keyVersion, to: &buffers.oldBinding)
        TokenBinding.appendDataKeyVersion(newVersion, to: &buffers.newBinding)
        let oldBinding = buffers.oldBinding, newBinding = buffers.newBinding, nonces = buffers.nonces
        try buffers.dataKey.withUnsafeMutableBytes { dek in
            do {
                try oldBinding.withUnsafeBytes { try opener.open(row.wrappedKey, associatedData: $0, into: dek) }
            } catch is CryptoError {
                throw unreadable()
            }
            try newBinding.withUnsafeBytes { newBinding in
                try batch.append(
                    id: row.id, tenant: tenant, expectedVersion: row.keyVersion, newVersion: newVersion,
                    expectedKey: row.wrappedKey
                ) { try sealer.seal(UnsafeRawBufferPointer(dek), associatedData: newBinding, into: $0, nonces: nonces) }
            }
        }
    }

    /// Opens one row's token (envelope or old format) and seals it under a fresh data key wrapped by
    /// `sealer` at `newVersion`, through the reused plaintext buffer.
    private static func reseal(
        _ row: SealedRow, opener: AESGCMContext, sealer: AESGCMContext, newVersion: Int, buffers: inout Buffers
    ) throws -> (sealed: [UInt8], wrappedKey: [UInt8]) {
        let unreadable = CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion)
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard row.sealedToken.count >= overhead else { throw unreadable }
        let count = row.sealedToken.count - overhead
        if buffers.plaintext.count < count {
            Support.wipe(&buffers.plaintext)
            buffers.plaintext = [UInt8](repeating: 0, count: count)
        }
        let tokenOpener: AESGCMContext
        if let wrappedKey = row.wrappedKey {
            let dek: SymmetricKey
            do {
                dek = try Envelope.unwrap(
                    wrappedKey, for: row.key, secret: row.secretName, version: row.keyVersion, unwrapper: opener)
            } catch is CryptoError {
                throw unreadable
            }
            tokenOpener = try AESGCMContext(key: dek)
            try Envelope.tokenBinding(for: row.key, dataKey: dek, into: &buffers.oldBinding)
        } else {
            tokenOpener = opener
            TokenBinding.write(
                for: row.key, secret: row.secretName, keyVersion: row.keyVersion, into: &buffers.oldBinding)
        }
        let oldBinding = buffers.oldBinding
        return try buffers.plaintext.withUnsafeMutableBytes { scratch in
            let plaintext = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            do {
                try row.sealedToken.withUnsafeBytes { sealed in
                    try oldBinding.withUnsafeBytes { try tokenOpener.open(sealed, associatedData: $0, into: plaintext) }
                }
            } catch is CryptoError {
                throw unreadable
            }
            return try Envelope.seal(
                UnsafeRawBufferPointer(plaintext), for: row.key, secret: row.key.tenant, version: newVersion,
                wrapper: sealer)
        }
    }
}

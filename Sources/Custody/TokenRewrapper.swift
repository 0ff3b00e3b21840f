import Crypto
import Foundation
import Store
import Support

/// Re-encrypts tokens from older key versions to their tenant's newest: the hot path of rotation.
///
/// Tenants are first ``prepare(tenant:target:oldVersions:)``d (their data keys fetched once, so a key
/// the principal may not read fails the tenant, not every row), then ``rewrapAll(scanWholeTable:now:onBatch:onRewrapped:onFailure:)``
/// walks the rows in batches: it opens each token with the old key, seals it with the new one under
/// the new binding (I2), and writes the batch in one transaction with compare-and-set
/// (``TokenStore/replaceSealedTokens(_:now:)``). A crash between batches leaves every row on
/// either version, and both versions still exist (I1, I3), so the next run goes on where this one
/// stopped. Plaintext lives in one reused buffer that is wiped at the end. A row that does not open
/// is reported and left as it is; the walk goes on.
///
/// Two walks give the same result: when most rows need rewrapping, one pass over the whole table in
/// id order reads and rewrites each page once (the fast path for a full rotation); when few do, a
/// walk per tenant over the (tenant, user, provider) key reads only those tenants' rows.

package final class TokenRewrapper {
    /// Where rows and keys come from.
    package let custodian: TokenCustodian
    /// Rows per transaction.
    package let batchSize: Int
    private var tenants: [String: TenantKeys] = [:]

    private struct TenantKeys {
        var target: Int
        var sealer: AESGCMContext
        var openers: [Int: AESGCMContext]
    }

    /// How many batches one write transaction takes.
    static let batchesPerTransaction = 4

    /// What a walk did for one tenant.
    package struct Outcome: Equatable {
        /// Rows now on the new version.
        package var rewrapped = 0
        /// Rows left on their old version because they did not open or seal.
        package var failed = 0

        /// Nothing rewrapped, nothing failed.
        package init() {}
    }

    /// Creates a rewrapper.
    package init(custodian: TokenCustodian, batchSize: Int) {
        self.custodian = custodian
        self.batchSize = max(1, batchSize)
    }

    /// Fetches the keys `tenant`'s rows need: the target version's and each old version's.
    /// - throws: vault errors (missing permission, a version that is gone); the tenant is then not walked.
    package func prepare(tenant: String, target: Int, oldVersions: [Int]) throws {
        var openers: [Int: AESGCMContext] = [:]
        for version in oldVersions where version != target {
            openers[version] = try custodian.context(secret: tenant, version: version)
        }
        tenants[tenant] = TenantKeys(
            target: target, sealer: try custodian.context(secret: tenant, version: target), openers: openers)
    }

    /// One batch resealed by the producer thread, ready to write.
    private struct ResealedBatch {
        var updates: [SealedTokenUpdate] = []
        var keysOfUpdate: [TokenKey] = []
        var failures: [(key: TokenKey, error: any Error)] = []
        var rowCount = 0
    }

    /// Rewraps every row of the prepared tenants that is on an older version than its tenant's target.
    ///
    /// Two threads share the work: a producer with its own read connection walks the rows and reseals
    /// each batch, while the calling thread writes the batch before it. Keys and the plaintext buffer
    /// are used by the producer only; the store connection by the caller only.
    /// - Parameters:
    ///   - scanWholeTable: walk the whole table in id order (best when most rows need it) instead of
    ///     each tenant's rows through the index.
    ///   - onBatch: called after each committed batch with the number of rows it rewrapped or failed.
    ///   - onRewrapped: called for each row rewrapped, when the report lists items (nil otherwise, for speed).
    ///   - onFailure: called for each row that could not be rewrapped, with the reason.
    /// - Returns: per tenant, what was done.
    /// - throws: store errors (a batch that cannot be read or committed); the batches committed before stay committed.
    package func rewrapAll(
        scanWholeTable: Bool, now: Date, onBatch: (Int) -> Void, onRewrapped: ((TokenKey) -> Void)? = nil,
        onFailure: (TokenKey, any Error) -> Void
    ) throws -> [String: Outcome] {
        let queue = BatchQueue<ResealedBatch>(capacity: 2)
        let producer = ProducerBox(
            rewrapper: self, sessions: TokenStoreSessions(custodian.store), listItems: onRewrapped != nil,
            scanWholeTable: scanWholeTable)
        Thread.detachNewThread { producer.run(into: queue) }
        defer {
            queue.cancel()
            queue.waitUntilFinished()
        }
        var outcomes: [String: Outcome] = [:]
        try custodian.store.withCheckpointInterval(pages: 8_192) {
            // Each transaction takes up to `batchesPerTransaction` batches: memory stays at a few batches,
            // while the pages many rows share (the index's) are written once per transaction.
            var finished = false
            while !finished {
                try custodian.store.replacingSealedTokensInOneTransaction(now: now) { apply in
                    for _ in 0..<Self.batchesPerTransaction {
                        guard let batch = try queue.take() else {
                            finished = true
                            return
                        }
                        for failure in batch.failures {
                            outcomes[failure.key.tenant, default: Outcome()].failed += 1
                            onFailure(failure.key, failure.error)
                        }
                        // Rows changed meanwhile (a refresh committed a newer token) are skipped by the compare-and-set.
                        let changed = try apply(batch.updates)
                        for (index, didChange) in changed.enumerated() where didChange {
                            outcomes[batch.updates[index].tenant, default: Outcome()].rewrapped += 1
                            if let onRewrapped { onRewrapped(batch.keysOfUpdate[index]) }
                        }
                        onBatch(batch.rowCount)
                    }
                }
            }
        }
        return outcomes
    }

    /// The producer's side: everything it needs, handed to its thread once.
    ///
    /// `@unchecked Sendable`: the rewrapper's keys are used by the producer thread alone while the walk
    /// runs (the caller touches only its own store connection until the producer has finished).
    private final class ProducerBox: @unchecked Sendable {
        let rewrapper: TokenRewrapper
        let sessions: TokenStoreSessions
        let listItems: Bool
        let scanWholeTable: Bool

        init(rewrapper: TokenRewrapper, sessions: TokenStoreSessions, listItems: Bool, scanWholeTable: Bool) {
            self.rewrapper = rewrapper
            self.sessions = sessions
            self.listItems = listItems
            self.scanWholeTable = scanWholeTable
        }

        func run(into queue: BatchQueue<ResealedBatch>) {
            var plaintext = [UInt8](repeating: 0, count: 4_096)
            defer { wipe(&plaintext) }
            do {
                let reader = try sessions.open()
                try rewrapper.walk(reader, scanWholeTable: scanWholeTable) { rows in
                    let batch = rewrapper.reseal(rows, buffer: &plaintext, listItems: listItems)
                    return queue.put(batch)
                }
                queue.finish(nil)
            } catch {
                queue.finish(error)
            }
        }
    }

    /// Reseals one batch: updates for the rows that opened, failures for the rest.
    private func reseal(_ rows: [SealedRow], buffer: inout [UInt8], listItems: Bool) -> ResealedBatch {
        var batch = ResealedBatch()
        var bindings: (old: [UInt8], new: [UInt8]) = ([], [])
        bindings.old.reserveCapacity(256)
        bindings.new.reserveCapacity(256)
        batch.rowCount = rows.count
        batch.updates.reserveCapacity(rows.count)
        for row in rows {
            do {
                let keys = tenants[row.key.tenant]!
                let opener =
                    try row.secretName == row.key.tenant
                    ? keys.openers[row.keyVersion]!
                    : custodian.context(secret: row.secretName, version: row.keyVersion)
                let sealed = try Self.reseal(
                    row, opener: opener, sealer: keys.sealer, newVersion: keys.target, buffer: &buffer,
                    bindings: &bindings)
                batch.updates.append(
                    SealedTokenUpdate(
                        id: row.id, tenant: row.key.tenant, expectedKeyVersion: row.keyVersion,
                        newKeyVersion: keys.target, sealedToken: sealed))
                if listItems { batch.keysOfUpdate.append(row.key) }
            } catch {
                batch.failures.append((row.key, error))
            }
        }
        return batch
    }

    /// Feeds `process` the rows to rewrap from `store`, batch by batch, in the chosen walk, until it
    /// returns false or the rows run out.
    private func walk(_ store: any TokenStore, scanWholeTable: Bool, process: ([SealedRow]) throws -> Bool) throws {
        if scanWholeTable {
            var afterID: Int64 = 0
            while true {
                let (rows, lastID) = try store.sealedRows(afterID: afterID, scanLimit: batchSize) { tenant, version in
                    guard let keys = self.tenants[tenant] else { return false }
                    return version != keys.target && keys.openers[version] != nil
                }
                guard let lastID else { return }
                afterID = lastID
                if !rows.isEmpty, try !process(rows) { return }
            }
        } else {
            for tenant in tenants.keys.sorted() {
                let keys = tenants[tenant]!
                var after = (user: "", provider: "")
                while true {
                    let rows = try store.sealedRows(tenant: tenant, notOn: keys.target, after: after, limit: batchSize)
                    guard let last = rows.last else { break }
                    after = (last.key.user, last.key.provider)
                    // A version this run has no key for (not in the counts when planned) stays for the next run.
                    let wanted = rows.filter { keys.openers[$0.keyVersion] != nil }
                    if !wanted.isEmpty, try !process(wanted) { return }
                }
            }
        }
    }

    /// Opens one row with the old key and seals its token with the new one, through `buffer`.
    private static func reseal(
        _ row: SealedRow, opener: AESGCMContext, sealer: AESGCMContext, newVersion: Int,
        buffer: inout [UInt8], bindings: inout (old: [UInt8], new: [UInt8])
    ) throws -> [UInt8] {
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard row.sealedToken.count >= overhead else {
            throw CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion)
        }
        let count = row.sealedToken.count - overhead
        if buffer.count < count {
            wipe(&buffer)
            buffer = [UInt8](repeating: 0, count: count)
        }
        TokenBinding.write(for: row.key, secret: row.secretName, keyVersion: row.keyVersion, into: &bindings.old)
        TokenBinding.write(for: row.key, secret: row.key.tenant, keyVersion: newVersion, into: &bindings.new)
        let oldBinding = bindings.old, newBinding = bindings.new
        return try buffer.withUnsafeMutableBytes { scratch in
            let plaintext = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            do {
                try row.sealedToken.withUnsafeBytes { sealed in
                    try oldBinding.withUnsafeBytes { try opener.open(sealed, associatedData: $0, into: plaintext) }
                }
            } catch is CryptoError {
                throw CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion)
            }
            return try newBinding.withUnsafeBytes {
                try sealer.seal(UnsafeRawBufferPointer(plaintext), associatedData: $0)
            }
        }
    }
}

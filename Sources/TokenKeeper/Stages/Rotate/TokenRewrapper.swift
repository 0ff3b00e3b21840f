import Foundation

/// Re-encrypts a tenant's tokens from an older key version to the newest: the hot path of rotation.
///
/// It walks the rows on the old version in id order, one batch at a time: opens each token with the
/// old data key, seals it with the new one under the new binding (I2), and writes the batch in one
/// transaction with compare-and-set (``SQLiteTokenStore/replaceSealedTokens(_:now:)``). A crash
/// between batches leaves every row on either version, and both versions still exist (I1, I3), so
/// the next run goes on where this one stopped. Plaintext lives in one reused buffer that is wiped
/// at the end. A row that does not open is reported and left as it is; the walk goes on.
package struct TokenRewrapper {
    /// Where rows and keys come from.
    package let custodian: TokenCustodian
    /// Rows per transaction.
    package let batchSize: Int

    /// Creates a rewrapper.
    package init(custodian: TokenCustodian, batchSize: Int) {
        self.custodian = custodian
        self.batchSize = max(1, batchSize)
    }

    /// What one walk did.
    package struct Outcome {
        /// Rows now on the new version.
        package var rewrapped = 0
        /// Rows left on the old version because they did not open or seal.
        package var failed = 0
    }

    /// Rewraps every row of `tenant` on `oldVersion` to `newVersion` of the tenant's secret.
    /// - Parameters:
    ///   - onBatch: called after each committed batch with the number of rows it covered.
    ///   - onRewrapped: called for each row rewrapped, when the report lists items (nil otherwise, for speed).
    ///   - onFailure: called for each row that could not be rewrapped, with the reason.
    /// - throws: vault errors (a key that cannot be had) and store errors (a batch that cannot commit);
    ///   the batches committed before stay committed.
    package func rewrap(tenant: String, from oldVersion: Int, to newVersion: Int, now: Date,
                        onBatch: (Int) -> Void, onRewrapped: ((TokenKey) -> Void)? = nil,
                        onFailure: (TokenKey, any Error) -> Void) throws -> Outcome {
        var outcome = Outcome()
        let sealer = try custodian.context(secret: tenant, version: newVersion)
        var plaintext = [UInt8](repeating: 0, count: 4_096)
        defer { wipe(&plaintext) }
        var afterID: Int64 = 0
        while true {
            let rows = try custodian.store.sealedRows(tenant: tenant, keyVersion: oldVersion, afterID: afterID, limit: batchSize)
            guard let last = rows.last else { break }
            afterID = last.id
            var updates: [SealedTokenUpdate] = []
            updates.reserveCapacity(rows.count)
            var rewrappedKeys: [TokenKey] = []
            for row in rows {
                do {
                    let opener = try custodian.context(secret: row.secretName, version: oldVersion)
                    let sealed = try Self.reseal(row, opener: opener, sealer: sealer, secret: tenant, newVersion: newVersion,
                                                 buffer: &plaintext)
                    updates.append(SealedTokenUpdate(id: row.id, expectedKeyVersion: oldVersion, newKeyVersion: newVersion, sealedToken: sealed))
                    if onRewrapped != nil { rewrappedKeys.append(row.key) }
                } catch {
                    outcome.failed += 1
                    onFailure(row.key, error)
                }
            }
            // Rows changed meanwhile (a refresh committed a newer token) are skipped by the compare-and-set.
            outcome.rewrapped += try custodian.store.replaceSealedTokens(updates, now: now)
            if let onRewrapped { rewrappedKeys.forEach(onRewrapped) }
            onBatch(rows.count)
        }
        return outcome
    }

    /// Opens one row with the old key and seals its token with the new one, through `buffer`.
    private static func reseal(_ row: SealedRow, opener: AESGCMContext, sealer: AESGCMContext, secret: String, newVersion: Int,
                               buffer: inout [UInt8]) throws -> [UInt8] {
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard row.sealedToken.count >= overhead else { throw CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion) }
        let count = row.sealedToken.count - overhead
        if buffer.count < count {
            wipe(&buffer)
            buffer = [UInt8](repeating: 0, count: count)
        }
        let oldBinding = TokenBinding.associatedData(for: row.key, secret: row.secretName, keyVersion: row.keyVersion)
        let newBinding = TokenBinding.associatedData(for: row.key, secret: secret, keyVersion: newVersion)
        return try buffer.withUnsafeMutableBytes { scratch in
            let plaintext = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<count])
            do {
                try row.sealedToken.withUnsafeBytes { sealed in
                    try oldBinding.withUnsafeBytes { try opener.open(sealed, associatedData: $0, into: plaintext) }
                }
            } catch is CryptoError {
                throw CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion)
            }
            return try newBinding.withUnsafeBytes { try sealer.seal(UnsafeRawBufferPointer(plaintext), associatedData: $0) }
        }
    }
}

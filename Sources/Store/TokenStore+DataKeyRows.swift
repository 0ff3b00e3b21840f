/// Row-by-row forms of the rotation's reads and writes of wrapped data keys, for callers outside the hot
/// path (tests, tools): each builds on the flat forms every store implements, so there is one
/// implementation per store.
extension TokenStore {
    /// Up to `scanLimit` wrapped data keys after `afterID` in row id order that `wanted(tenant, keyVersion)`
    /// selects, and the last id looked at (nil at the end). Reads the narrow table only, never a token.
    public func dataKeyRows(afterID: Int64, scanLimit: Int, where wanted: (String, Int) -> Bool) throws -> (
        rows: [DataKeyRow], lastID: Int64?
    ) {
        var rows: [DataKeyRow] = []
        let lastID = try scanDataKeys(afterID: afterID, limit: scanLimit) { view in
            let key = view.key
            guard wanted(key.tenant, view.keyVersion) else { return }
            rows.append(
                DataKeyRow(id: view.id, key: key, keyVersion: view.keyVersion, wrappedKey: Array(view.wrappedKey)))
        }
        return (rows, lastID)
    }

    /// Writes `updates` in one short transaction, compare-and-set per row on the version and wrapped bytes
    /// read, moving the per-version counts with them. Says per update whether it applied; an update whose
    /// wrapped keys are not ``DataKeyRewrapBatch/wrappedKeyByteCount`` bytes never applies.
    public func replaceDataKeys(_ updates: [DataKeyUpdate]) throws -> [Bool] {
        var tenants: [String] = []
        var numbers: [String: Int] = [:]
        for update in updates where numbers[update.tenant] == nil {
            numbers[update.tenant] = tenants.count
            tenants.append(update.tenant)
        }
        var batch = DataKeyRewrapBatch(tenants: tenants, capacity: updates.count)
        // Per update, its row in the batch (nil: not written).
        var batchRows: [Int?] = []
        for update in updates {
            guard update.wrappedKey.count == DataKeyRewrapBatch.wrappedKeyByteCount else {
                batchRows.append(nil)
                continue
            }
            do {
                try update.expectedWrappedKey.withUnsafeBytes { expected in
                    try update.wrappedKey.withUnsafeBytes { replacement in
                        try batch.append(
                            id: update.id, tenant: numbers[update.tenant]!, expectedVersion: update.expectedKeyVersion,
                            newVersion: update.newKeyVersion, expectedKey: expected
                        ) { $0.copyMemory(from: replacement) }
                    }
                }
                batchRows.append(batch.count - 1)
            } catch is DataKeyRewrapBatch.WrongSize {
                batchRows.append(nil)
            }
        }
        let applied = try replaceDataKeys(batch, rows: 0..<batch.count)
        return batchRows.map { $0.map { applied[$0] } ?? false }
    }
}

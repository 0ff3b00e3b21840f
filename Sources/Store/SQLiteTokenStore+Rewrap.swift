import Foundation

/// One row's new sealed token: a migration to the envelope format, or a reseal under a fresh data key.
public struct SealedTokenUpdate: Sendable {
    /// The row.
    public var id: Int64
    /// The row's tenant (whose per-version counts the update moves).
    public var tenant: String
    /// The version the row was read with; the update applies only if it still has it.
    public var expectedKeyVersion: Int
    /// The wrapped data key the row was read with, or nil when it was read in the old format: the update
    /// applies only while the row is still exactly so (compare-and-set).
    public var expectedWrappedKey: [UInt8]?
    /// The version the new data key is wrapped with (or, in the old format, the token sealed with).
    public var newKeyVersion: Int
    /// `nonce ‖ ciphertext ‖ tag`: under the new data key (or the new version, in the old format).
    public var sealedToken: [UInt8]
    /// The new wrapped data key (its version is `newKeyVersion`), or nil to write the old format (tests).
    public var wrappedKey: [UInt8]?

    /// Creates an update.
    public init(
        id: Int64, tenant: String, expectedKeyVersion: Int, expectedWrappedKey: [UInt8]? = nil, newKeyVersion: Int,
        sealedToken: [UInt8], wrappedKey: [UInt8]? = nil
    ) {
        self.id = id
        self.tenant = tenant
        self.expectedKeyVersion = expectedKeyVersion
        self.expectedWrappedKey = expectedWrappedKey
        self.newKeyVersion = newKeyVersion
        self.sealedToken = sealedToken
        self.wrappedKey = wrappedKey
    }
}

extension SQLiteTokenStore {
    /// Writes a batch of rewrapped tokens in one transaction, the hot path of key rotation.
    ///
    /// Each row is updated only if it is still on `expectedKeyVersion` (compare-and-set): a row that
    /// was refreshed or rewrapped meanwhile is skipped, never clobbered with an older token. Either the
    /// whole batch commits or none of it does, so every row decrypts at every instant (I1, I3).
    /// - Returns: how many rows were updated.
    @discardableResult
    public func replaceSealedTokens(_ updates: [SealedTokenUpdate], now: Date) throws -> Int {
        guard !updates.isEmpty else { return 0 }
        return try connection.writeTransaction { try applySealedTokenUpdates(updates, now: now).filter { $0 }.count }
    }

    /// Several batches of updates in one transaction: `body` is handed a function that applies one batch
    /// (compare-and-set per row, as ``replaceSealedTokens(_:now:)``) and says which rows changed. Either
    /// all the batches commit or none does. Fewer, larger transactions write each page the batches share
    /// (index pages above all) to the WAL once instead of once per batch.
    public func replacingSealedTokensInOneTransaction<T>(
        now: Date, _ body: (_ apply: ([SealedTokenUpdate]) throws -> [Bool]) throws -> T
    ) throws -> T {
        try connection.writeTransaction { try body { try applySealedTokenUpdates($0, now: now) } }
    }

    /// The compare-and-set updates themselves, inside a transaction the caller holds, and the
    /// per-version counts they move (once per tenant and version, not per row).
    private func applySealedTokenUpdates(_ updates: [SealedTokenUpdate], now: Date) throws -> [Bool] {
        let statement = try connection.cached(
            """
            UPDATE tokens SET key_version = ?1, sealed_token = ?2, updated_at = ?3
            WHERE id = ?4 AND sealed_token IS NOT NULL AND CASE WHEN ?6 IS NULL THEN key_version = ?5 AND ?5 != 0
                ELSE key_version = 0 AND EXISTS (
                    SELECT 1 FROM token_keys WHERE token_id = ?4 AND key_version = ?5 AND wrapped_key = ?6) END
            RETURNING user_id, provider
            """)
        var changed: [Bool] = []
        changed.reserveCapacity(updates.count)
        var moved = KeyVersionRowChanges()
        for update in updates {
            statement.bind(
                1,
                StoredToken.tokenColumnVersion(
                    update.newKeyVersion, wrappedKey: update.wrappedKey, sealed: update.sealedToken))
            update.sealedToken.withUnsafeBytes { statement.bind(2, bytes: $0) }
            statement.bind(3, now)
            statement.bind(4, update.id)
            statement.bind(5, update.expectedKeyVersion)
            statement.bind(6, update.expectedWrappedKey)
            let didChange = try statement.step()
            let key =
                didChange ? TokenKey(tenant: update.tenant, user: statement.text(0), provider: statement.text(1)) : nil
            statement.reset()
            changed.append(didChange)
            if let key {
                try writeDataKey(
                    rowID: update.id, key: key, version: update.newKeyVersion, wrappedKey: update.wrappedKey)
                moved.move(tenant: update.tenant, from: update.expectedKeyVersion, to: update.newKeyVersion)
            }
        }
        try apply(moved)
        return changed
    }
}

/// The part of a row that rewrapping needs: its id, its binding fields and its sealed token.
public struct SealedRow: Sendable {
    /// The row id (the keyset cursor).
    public var id: Int64
    /// The row's tenant, user and provider.
    public var key: TokenKey
    /// The vault secret the token is sealed under.
    public var secretName: String
    /// The key version the token is sealed with.
    public var keyVersion: Int
    /// `nonce ‖ ciphertext ‖ tag`.
    public var sealedToken: [UInt8]
    /// The token's wrapped data key, or nil for a row in the old format.
    public var wrappedKey: [UInt8]?

    /// Creates the value.
    public init(
        id: Int64, key: TokenKey, secretName: String, keyVersion: Int, sealedToken: [UInt8], wrappedKey: [UInt8]? = nil
    ) {
        self.id = id
        self.key = key
        self.secretName = secretName
        self.keyVersion = keyVersion
        self.sealedToken = sealedToken
        self.wrappedKey = wrappedKey
    }
}

extension SQLiteTokenStore {
    /// The statement of ``sealedRows(tenant:notOn:after:limit:)``: a range of the (tenant, user, provider) key,
    /// read in the key's order (no sort). A constant, so the tests plan the very text the store prepares.
    static let tenantSealedRowsSQL = """
        SELECT t.id, t.user_id, t.provider, t.secret_name, coalesce(k.key_version, t.key_version), t.sealed_token,
            k.wrapped_key FROM \(joined)
        WHERE t.tenant = ?1 AND (t.user_id, t.provider) > (?2, ?3) AND coalesce(k.key_version, t.key_version) != ?4
          AND t.sealed_token IS NOT NULL
        ORDER BY t.user_id, t.provider LIMIT ?5
        """

    /// Up to `limit` rows of `tenant` that hold a token sealed with a version other than `target`, after
    /// the row `after` (user, provider) in that order, with only the columns a rewrap needs. One batch of
    /// a keyset walk over the (tenant, user, provider) key: memory stays at one batch whatever the store's
    /// size, and only the tenant's rows are read.
    public func sealedRows(tenant: String, notOn target: Int, after: (user: String, provider: String), limit: Int)
        throws -> [SealedRow]
    {
        let statement = try connection.cached(Self.tenantSealedRowsSQL)
        defer { statement.reset() }
        statement.bind(1, tenant)
        statement.bind(2, after.user)
        statement.bind(3, after.provider)
        statement.bind(4, target)
        statement.bind(5, limit)
        var rows: [SealedRow] = []
        rows.reserveCapacity(limit)
        while try statement.step() {
            rows.append(
                SealedRow(
                    id: statement.int(0),
                    key: TokenKey(tenant: tenant, user: statement.text(1), provider: statement.text(2)),
                    secretName: statement.text(3), keyVersion: Int(statement.int(4)),
                    sealedToken: statement.blob(5) ?? [], wrappedKey: statement.blob(6)))
        }
        return rows
    }
}

extension SQLiteTokenStore {
    /// Up to `limit` rows with id above `afterID`, in id order (the table's own order, so a walk reads
    /// each page once), that `wanted(tenant, keyVersion)` selects and that still hold a token. Rows not
    /// selected are skipped before their token is read. One batch of a keyset walk over the whole table.
    /// - Returns: the selected rows, and the last id looked at (the cursor for the next batch; nil at the end).
    public func sealedRows(afterID: Int64, scanLimit: Int, where wanted: (String, Int) -> Bool) throws -> (
        rows: [SealedRow], lastID: Int64?
    ) {
        let statement = try connection.cached(
            """
            SELECT t.id, t.tenant, coalesce(k.key_version, t.key_version), t.user_id, t.provider, t.secret_name,
                t.sealed_token, k.wrapped_key FROM \(Self.joined)
            WHERE t.id > ?1 AND t.sealed_token IS NOT NULL ORDER BY t.id LIMIT ?2
            """)
        defer { statement.reset() }
        statement.bind(1, afterID)
        statement.bind(2, scanLimit)
        var rows: [SealedRow] = []
        var lastID: Int64?
        var tenant = ""
        while try statement.step() {
            lastID = statement.int(0)
            // Tenants repeat; compare bytes before making a new String.
            if !statement.textEquals(1, tenant) { tenant = statement.text(1) }
            let version = Int(statement.int(2))
            guard wanted(tenant, version) else { continue }
            rows.append(
                SealedRow(
                    id: lastID!, key: TokenKey(tenant: tenant, user: statement.text(3), provider: statement.text(4)),
                    secretName: statement.text(5), keyVersion: version, sealedToken: statement.blob(6) ?? [],
                    wrappedKey: statement.blob(7)))
        }
        return (rows, lastID)
    }
}

extension SQLiteTokenStore {
    /// Runs `body` (a long run of write batches, such as a rotation) with WAL checkpoints every
    /// `pages` pages instead of SQLite's default 1,000, then checkpoints once and restores the default.
    ///
    /// Fewer, larger checkpoints copy each page that several batches touched once instead of once per
    /// batch. Every batch is still its own committed transaction in the WAL; call ``makeDurable()``
    /// before acting on them in a way that cannot be undone.
    public func withCheckpointInterval<T>(pages: Int, _ body: () throws -> T) throws -> T {
        try connection.execute("PRAGMA wal_autocheckpoint=\(pages)")
        defer {
            try? connection.execute("PRAGMA wal_checkpoint(PASSIVE)")
            try? connection.execute("PRAGMA wal_autocheckpoint=1000")
        }
        return try body()
    }

    /// Runs `body` with an 8 MiB page cache (SQLite's default is 2 MiB) and WAL checkpoints every 10,000
    /// pages instead of 1,000 (``withCheckpointInterval(pages:_:)``), then restores both: an import's
    /// upserts land all over the (tenant, user, provider) key, and at a million rows its pages no longer
    /// fit the default cache (26,000 against 50,000 tokens/s on the development VM; 8 MiB holds the pages
    /// a batch touches, and 16 MiB took an import to 64 MiB of memory). Each batch rewrites the pages of
    /// that key it touched, and checkpointing ten times less often copies them to the database file ten
    /// times less often (a seventh fewer bytes written at 200,000 tokens).
    public func withBulkLoad<T>(_ body: () throws -> T) throws -> T {
        try connection.execute("PRAGMA cache_size=-8192")
        defer { try? connection.execute("PRAGMA cache_size=-2000") }
        return try withCheckpointInterval(pages: 10_000, body)
    }

    /// Syncs every committed transaction to disk and copies the WAL into the database file.
    ///
    /// With `synchronous=NORMAL` a commit survives a crash of the process at once, but a power loss
    /// only once a checkpoint has synced the WAL. Call this before acting on committed rows in a way
    /// that cannot be undone: rotation calls it before it disables or purges the versions the rows
    /// were moved off (I1). A full checkpoint waits (up to the busy timeout) for other readers.
    /// - throws: ``StoreError/notDurable(path:)`` when readers or a writer kept the WAL busy.
    public func makeDurable() throws {
        // A PASSIVE checkpoint first copies what it can without blocking anyone, so the FULL one (which makes
        // writers wait while it runs) has little left to copy: token use waits only for that.
        try checkpoint()
        let statement = try connection.cached("PRAGMA wal_checkpoint(FULL)")
        defer { statement.reset() }
        // One row: busy (1 when the checkpoint could not finish), WAL frames, frames checkpointed.
        guard try statement.step(), statement.int(0) == 0 else { throw StoreError.notDurable(path: path) }
    }
}

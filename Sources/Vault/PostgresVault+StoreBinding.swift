import Foundation
import PostgresClient

/// The store a ``PostgresVault`` serves, kept in the `vault_meta` row under its MAC, with the same rules
/// as ``FileVault``'s: binding needs no permission (it only narrows what the vault accepts), except
/// replacing a store that has held tokens, which needs every permission. Every change is audited.
extension PostgresVault {
    /// The store this vault serves, read now (another process may have bound it since this vault was
    /// opened); nil for a vault that serves none yet.
    public func storeBinding() throws -> StoreBinding? {
        try withSession { db in try loadMeta(in: db).store }
    }

    /// Whether the vault holds any secret, live or soft-deleted.
    public func holdsSecrets() throws -> Bool {
        try withSession { db in
            try db.query("SELECT EXISTS (SELECT 1 FROM vault_secrets)", purpose: "look for secrets").int(0, 0) != 0
        }
    }

    /// Records `storeID` as the store this vault serves, and whether it has held tokens (never taken back).
    /// Does nothing when the vault records exactly that already.
    /// - Parameter replacing: the store the vault served until now, when it is knowingly replaced: needs
    ///   every permission when that store has held tokens.
    /// - throws: ``VaultError/storeNotServed(vault:store:served:)`` when the vault serves another store and
    ///   `replacing` does not name it; ``VaultError/readOnly(operation:)`` on a read-only vault.
    public func bindStore(_ storeID: String, heldTokens: Bool, replacing: String? = nil) throws {
        let current = try storeBinding()
        if let current, current.storeID == storeID, current.heldTokens || !heldTokens { return }
        guard !isReadOnly else { throw VaultError.readOnly(operation: "bind store \(storeID)") }
        if let current, current.storeID != storeID, current.storeID != replacing {
            throw VaultError.storeNotServed(vault: location, store: storeID, served: current.storeID)
        }
        let replaces = current.map { $0.storeID != storeID && $0.heldTokens } ?? false
        let operation = "bind store \(storeID)" + (replaces ? " (replacing store \(current!.storeID))" : "")
        try mutating(operation, secret: nil, permissions: replaces ? Set(VaultPermission.allCases) : []) { db in
            var meta = try loadMeta(in: db, locking: "FOR NO KEY UPDATE")
            if let bound = meta.store, bound.storeID != storeID, bound.storeID != replacing {
                throw VaultError.storeNotServed(vault: location, store: storeID, served: bound.storeID)
            }
            let same = meta.store?.storeID == storeID
            meta.store = StoreBinding(
                storeID: storeID, heldTokens: heldTokens || (same && meta.store!.heldTokens),
                boundAt: same ? meta.store!.boundAt : now())
            try writeMeta(meta, in: db)
        }
    }

    /// Throws unless `storeID` is the store this vault serves; holds the `vault_meta` row (shared) until
    /// the caller's transaction ends, so the binding cannot change under a purge.
    func requireServing(_ storeID: String, in db: PostgresConnection) throws {
        let rows = try db.query(
            "SELECT \(VaultMetaRow.columns), mac FROM vault_meta WHERE singleton = 1 FOR SHARE",
            purpose: "read the vault")
        guard rows.count == 1 else { throw VaultError.notAVault(path: location) }
        let meta = VaultMetaRow(rows, 0)
        try checkMeta(meta, mac: rows.bytes(0, 7))
        let served = meta.store?.storeID
        guard served == storeID else {
            throw VaultError.storeNotServed(vault: location, store: storeID, served: served)
        }
    }
}

import Foundation

/// The store a ``FileVault`` serves, kept in `vault.json` beside the master key id.
///
/// Binding needs no permission (it only narrows what the vault accepts), except replacing a store
/// that has held tokens, which needs every permission, like a policy change. Every change is audited.
extension FileVault {
    /// The store this vault serves, read from disk now (another process may have bound it since this
    /// vault was opened); nil for a vault that serves none yet.
    public func storeBinding() throws -> StoreBinding? {
        try loadManifest().store
    }

    /// Whether the vault holds any secret, live or soft-deleted (a vault without serves nothing yet).
    public func holdsSecrets() throws -> Bool {
        try FileManager.default.contentsOfDirectory(atPath: path + "/secrets").contains {
            $0.hasSuffix(".json") && !$0.hasPrefix(".")
        }
    }

    /// Records `storeID` as the store this vault serves, and whether it has held tokens (which is never
    /// taken back). Does nothing when the vault records exactly that already.
    /// - Parameter replacing: the store the vault served until now, when it is knowingly replaced
    ///   (`state init --replace`): needs every permission when that store has held tokens.
    /// - throws: ``VaultError/storeNotServed(vault:store:served:)`` when the vault serves another store and
    ///   `replacing` does not name it; ``VaultError/readOnly(operation:)`` on a read-only vault.
    public func bindStore(_ storeID: String, heldTokens: Bool, replacing: String? = nil) throws {
        let current = try storeBinding()
        if let current, current.storeID == storeID, current.heldTokens || !heldTokens { return }
        guard !isReadOnly else { throw VaultError.readOnly(operation: "bind store \(storeID)") }
        if let current, current.storeID != storeID, current.storeID != replacing {
            throw VaultError.storeNotServed(vault: path, store: storeID, served: current.storeID)
        }
        let replaces = current.map { $0.storeID != storeID && $0.heldTokens } ?? false
        let operation = "bind store \(storeID)" + (replaces ? " (replacing store \(current!.storeID))" : "")
        try mutating(operation, secret: nil, permissions: replaces ? Set(VaultPermission.allCases) : []) {
            var manifest = try loadManifest()
            if let bound = manifest.store, bound.storeID != storeID, bound.storeID != replacing {
                throw VaultError.storeNotServed(vault: path, store: storeID, served: bound.storeID)
            }
            let same = manifest.store?.storeID == storeID
            manifest.store = StoreBinding(
                storeID: storeID, heldTokens: heldTokens || (same && manifest.store!.heldTokens),
                boundAt: same ? manifest.store!.boundAt : clock())
            try VaultFileCodec.write(manifest, to: manifestPath, macKey: macKey, keyID: keyID)
        }
    }

    /// Throws unless `storeID` is the store this vault serves. Call holding the write lock, before a
    /// step that is safe only for that store's tokens (purging a key version).
    func requireServing(_ storeID: String) throws {
        let served = try loadManifest().store?.storeID
        guard served == storeID else { throw VaultError.storeNotServed(vault: path, store: storeID, served: served) }
    }

    /// `vault.json`, read and checked now.
    func loadManifest() throws -> VaultManifest {
        try VaultFileCodec.read(VaultManifest.self, from: manifestPath, macKeys: [keyID: macKey]).body
    }
}

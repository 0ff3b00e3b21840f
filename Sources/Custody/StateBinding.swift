import Foundation
import Store
import Vault

/// How a command comes by its store (issue 10: no command creates a store behind the user's back).

public enum StoreSource: Sendable, Equatable {
    /// The store must exist and be the one the vault serves: every command but the ones below.
    case existing
    /// `token put` and `token import`: a missing store is made when the vault is new, that is when it
    /// serves no store that has held tokens (and, serving none at all, holds no secret).
    case createForNewVault
    /// `state init`: make a new store for the vault. `replacing`: the vault may serve it in place of a
    /// store that has held tokens and is lost for good.
    case create(replacing: Bool)
}

/// Opens the store a vault serves, and keeps the two bound (issue 10, point 1).
///
/// A store carries an identity from its creation (``StoreIdentity``); the vault records the identity of
/// the store it serves and whether that store has held tokens (``StoreBinding``). A missing or empty
/// store, or another store than the one the vault records, is an environment error naming both, so a
/// share that did not mount or a bad copy never passes for a new, empty store, and no run adds key
/// versions or purges the ones the real tokens need. A vault that serves no store yet (new, or made
/// before identities) is bound to the store it is first opened with for writing.
///
/// The rules live here, behind the vault and store types, so another backend (PostgreSQL) keeps them
/// by implementing ``KeyVault/storeBinding()`` and ``KeyVault/bindStore(_:heldTokens:replacing:)`` and
/// giving its store an identity.
public enum StateBinding {
    /// Opens (or, as `source` allows, creates) the store at `path` for `vault`, checking that it is the
    /// store the vault serves, and binds a vault that serves none yet unless either is read-only.
    /// - throws: ``StateBindingError`` for a missing, empty or different store, or a refused replacement;
    ///   ``StoreError/exists(path:)`` when `state init` finds a file; the store's and vault's own errors.
    public static func openStore(
        at path: String, vault: FileVault, readOnly: Bool = false, source: StoreSource = .existing,
        busyTimeout: TimeInterval = 5
    ) throws -> SQLiteTokenStore {
        var served = try vault.storeBinding()
        switch source {
        case .create(let replacing):
            guard !Self.isPresent(path) else { throw StoreError.exists(path: path) }
            if let served, served.heldTokens, !replacing {
                throw StateBindingError.wouldReplace(store: path, vault: vault.path, served: served)
            }
            return try create(at: path, for: vault, replacing: served?.storeID, busyTimeout: busyTimeout)
        case .createForNewVault where !Self.isPresent(path):
            let isNew = try served.map { !$0.heldTokens } ?? !vault.holdsSecrets()
            guard isNew else { throw StateBindingError.missing(store: path, vault: vault.path, served: served) }
            do {
                return try create(at: path, for: vault, replacing: served?.storeID, busyTimeout: busyTimeout)
            } catch StoreError.exists {
                // Another `token put` made it a moment ago (and bound the vault): open and check that one.
                served = try vault.storeBinding()
            }
        case .createForNewVault, .existing:
            break
        }
        let store: SQLiteTokenStore
        do {
            store = try SQLiteTokenStore(path: path, readOnly: readOnly, busyTimeout: busyTimeout)
        } catch StoreError.missing {
            throw StateBindingError.missing(store: path, vault: vault.path, served: served)
        } catch StoreError.empty {
            throw StateBindingError.empty(store: path, vault: vault.path, served: served)
        }
        let writable = !readOnly && !vault.isReadOnly
        if let served {
            guard served.storeID == store.identity.id else {
                throw StateBindingError.mismatch(
                    store: path, storeID: store.identity.id, vault: vault.path, served: served)
            }
            if writable, !served.heldTokens, try store.holdsTokens() {
                try vault.bindStore(served.storeID, heldTokens: true, replacing: nil)
            }
        } else if writable {
            try vault.bindStore(store.identity.id, heldTokens: try store.holdsTokens(), replacing: nil)
        }
        return store
    }

    /// Makes a new store and binds the vault to it.
    private static func create(at path: String, for vault: FileVault, replacing: String?, busyTimeout: TimeInterval)
        throws -> SQLiteTokenStore
    {
        let store = try SQLiteTokenStore.create(at: path, busyTimeout: busyTimeout)
        try vault.bindStore(store.identity.id, heldTokens: false, replacing: replacing)
        return store
    }

    /// Whether anything (a file, an empty file, a link) is at `path`.
    private static func isPresent(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

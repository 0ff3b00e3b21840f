import Foundation
import Spec
import Store
import Support
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
    /// Opens (or, as `source` allows, creates) the store at `location` for `vault`: the one place that turns
    /// a ``StoreLocation`` into a store. See ``openStore(at:vault:readOnly:source:busyTimeout:)`` for the rules.
    /// - Parameter environment: where an `env:` connection string reference is read (a `file:` one must be
    ///   private, mode 0600).
    /// - throws: as the path form does; ``SecretReferenceError`` for a connection string that cannot be read;
    ///   ``PostgresError`` for a server that cannot be reached.
    public static func openStore(
        _ location: StoreLocation, vault: any KeyVault, readOnly: Bool = false, source: StoreSource = .existing,
        busyTimeout: TimeInterval = 5, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> any TokenStore {
        switch location {
        case .sqlite(let path):
            return try openStore(at: path, vault: vault, readOnly: readOnly, source: source, busyTimeout: busyTimeout)
        case .postgres(let connection, let tls):
            let connectionString = try connection.resolve(environment: environment).revealed
            let name = location.description
            func open(_ creating: Bool) throws -> PostgresTokenStore {
                do {
                    return creating
                        ? try PostgresTokenStore.create(connectionString: connectionString, location: name, tls: tls)
                        : try PostgresTokenStore(
                            connectionString: connectionString, location: name, readOnly: readOnly, tls: tls)
                } catch StoreError.empty {
                    // A database without tokenkeeper's tables holds no store: it is missing, never taken for a new one.
                    throw StoreError.missing(path: name)
                }
            }
            return try bind(
                location: name, vault: vault, readOnly: readOnly, source: source,
                isPresent: {
                    do {
                        _ = try PostgresTokenStore(
                            connectionString: connectionString, location: name, readOnly: true, tls: tls)
                        return true
                    } catch StoreError.empty {
                        return false
                    } catch StoreError.needsMigration, StoreError.noTemporaryTables {
                        return true
                    }
                }, create: { try open(true) }, open: { try open(false) })
        }
    }

    /// Opens (or, as `source` allows, creates) the SQLite store at `path` for `vault`, checking that it is the
    /// store the vault serves, and binds a vault that serves none yet unless either is read-only.
    /// - throws: ``StateBindingError`` for a missing, empty or different store, or a refused replacement;
    ///   ``StoreError/exists(path:)`` when `state init` finds a file; the store's and vault's own errors.
    public static func openStore(
        at path: String, vault: any KeyVault, readOnly: Bool = false, source: StoreSource = .existing,
        busyTimeout: TimeInterval = 5
    ) throws -> SQLiteTokenStore {
        try bind(
            location: path, vault: vault, readOnly: readOnly, source: source, isPresent: { Self.isPresent(path) },
            create: { try SQLiteTokenStore.create(at: path, busyTimeout: busyTimeout) },
            open: { try SQLiteTokenStore(path: path, readOnly: readOnly, busyTimeout: busyTimeout) })
    }

    /// The binding rules, for any backend: `isPresent` says whether a store (for SQLite: anything at all) is
    /// there, `create` makes a new one (throwing ``StoreError/exists(path:)`` when one is there), `open` opens
    /// the existing one (throwing ``StoreError/missing(path:)`` or ``StoreError/empty(path:)``).
    private static func bind<Store: TokenStore>(
        location: String, vault: any KeyVault, readOnly: Bool, source: StoreSource, isPresent: () throws -> Bool,
        create: () throws -> Store, open: () throws -> Store
    ) throws -> Store {
        var served = try vault.storeBinding()
        switch source {
        case .create(let replacing):
            guard try !isPresent() else { throw StoreError.exists(path: location) }
            if let served, served.heldTokens, !replacing {
                throw StateBindingError.wouldReplace(store: location, vault: vault.location, served: served)
            }
            return try Self.create(create, for: vault, replacing: served?.storeID)
        case .createForNewVault where try !isPresent():
            let isNew = try served.map { !$0.heldTokens } ?? !vault.holdsSecrets()
            guard isNew else {
                throw StateBindingError.missing(store: location, vault: vault.location, served: served)
            }
            do {
                return try Self.create(create, for: vault, replacing: served?.storeID)
            } catch StoreError.exists {
                // Another `token put` made it a moment ago (and bound the vault): open and check that one.
                served = try vault.storeBinding()
            }
        case .createForNewVault, .existing:
            break
        }
        let store: Store
        do {
            store = try open()
        } catch StoreError.missing {
            throw StateBindingError.missing(store: location, vault: vault.location, served: served)
        } catch StoreError.empty {
            throw StateBindingError.empty(store: location, vault: vault.location, served: served)
        }
        let writable = !readOnly && !vault.isReadOnly
        if let served {
            guard served.storeID == store.identity.id else {
                throw StateBindingError.mismatch(
                    store: location, storeID: store.identity.id, vault: vault.location, served: served)
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
    private static func create<Store: TokenStore>(
        _ create: () throws -> Store, for vault: any KeyVault, replacing: String?
    ) throws -> Store {
        let store = try create()
        try vault.bindStore(store.identity.id, heldTokens: false, replacing: replacing)
        return store
    }

    /// Whether anything (a file, an empty file, a link) is at `path`.
    private static func isPresent(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }
}

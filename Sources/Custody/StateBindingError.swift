import Foundation
import Support
import Vault

/// The store in hand is not the one the vault serves: missing, empty or another store. Names both.

public enum StateBindingError: ActionableError, Equatable {
    /// No store at the path.
    case missing(store: String, vault: String, served: StoreBinding?)
    /// The store file is empty (0 bytes, or no tables).
    case empty(store: String, vault: String, served: StoreBinding?)
    /// The file is a store, but not the one the vault serves.
    case mismatch(store: String, storeID: String, vault: String, served: StoreBinding)
    /// `state init` would make the vault serve a new store in place of one that has held tokens.
    case wouldReplace(store: String, vault: String, served: StoreBinding)

    public var item: String {
        switch self {
        case .missing(let store, _, _), .empty(let store, _, _), .mismatch(let store, _, _, _),
            .wouldReplace(let store, _, _):
            store
        }
    }

    public var problem: String {
        switch self {
        case .missing(_, let vault, let served): "there is no store here, and vault \(vault) \(Self.serving(served))"
        case .empty(_, let vault, let served):
            "the store file is empty (a truncated file or a bad copy), and vault \(vault) \(Self.serving(served))"
        case .mismatch(_, let storeID, let vault, let served):
            "is store \(storeID), but vault \(vault) \(Self.serving(served))"
        case .wouldReplace(_, let vault, let served): "is missing, and vault \(vault) \(Self.serving(served))"
        }
    }

    public var remedy: String {
        switch self {
        case .missing(_, _, let served?) where served.heldTokens:
            "Nothing was changed. Restore the store from a backup or mount the share that holds it, and run again. "
                + "If it is lost for good, `tokenkeeper state init --replace` makes a new, empty one (its tokens cannot come back)."
        case .missing(_, _, .some):
            "It never held a token: make it again with `tokenkeeper state init`."
        case .missing(_, _, nil):
            "Nothing was changed. If a store should be here, restore it or mount its share; if there is none yet, "
                + "make it with `tokenkeeper state init` (a new vault's first `token put` makes it too). Check --store or the spec's store.sqlite."
        case .empty:
            "Nothing was changed. Restore the store from a backup; an empty file is never taken for a new store "
                + "(if there never was one, remove the file and run `tokenkeeper state init`)."
        case .mismatch:
            "Nothing was changed. Give the store this vault serves: check --store or the spec's store.sqlite, and that the right share is mounted."
        case .wouldReplace:
            "Restore that store if you can. If it is lost for good, run again with --replace: the vault then serves the new store, "
                + "and the lost store's tokens can never be opened again once their key versions are purged."
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .missing, .empty, .mismatch: .environment
        case .wouldReplace: .usage
        }
    }

    /// "serves store 1a2b... (bound 2026-11-22, has held tokens)", or "serves no store yet".
    private static func serving(_ served: StoreBinding?) -> String {
        guard let served else { return "serves no store yet" }
        return
            "serves store \(served.storeID) (bound \(DateText.day(served.boundAt))\(served.heldTokens ? ", has held tokens" : ", never held a token"))"
    }
}

import Foundation

/// The store a vault serves, as the vault records it in `vault.json` (under the file's MAC, so it
/// cannot be changed without the master key).
///
/// A store carries a random identity from its creation (``StoreIdentity``). The vault records that
/// identity when it is first used with the store, and whether the store has held tokens since. A
/// command that finds the store missing, empty or another one stops instead of taking it for a new
/// store (issue 10), and the vault purges a key version only for the store it serves, so tokens in a
/// store that was missing for a while open again once it is restored.
public struct StoreBinding: Codable, Sendable, Equatable {
    /// The identity of the store the vault serves.
    public var storeID: String
    /// Whether that store has held a token: a missing store that never did can be made again without
    /// losing anything; one that did must be restored (or explicitly replaced).
    public var heldTokens: Bool
    /// When the vault was bound to the store.
    public var boundAt: Date

    /// `storeId` in Swift's spelling, so the vault's snake_case coder writes `store_id` and reads it back.
    enum CodingKeys: String, CodingKey {
        case storeID = "storeId", heldTokens, boundAt
    }

    /// Creates a binding.
    public init(storeID: String, heldTokens: Bool, boundAt: Date) {
        self.storeID = storeID
        self.heldTokens = heldTokens
        self.boundAt = boundAt
    }
}

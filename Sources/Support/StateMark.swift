import Foundation

/// The mark `tokenkeeper state copy` leaves on a vault and a store (issue 15, point 5), kept in the
/// backend's own schema or files, so every process that opens them sees it, whatever host it runs on.
///
/// - `frozen` (the source, during a copy): token use refuses to take a lease, so nothing is redeemed
///   from a state whose copy is under way; a vault refuses every change.
/// - `moved` (the source, after a verified copy): every open fails, naming the destination, so no stale
///   copy is ever redeemed.
/// - `receiving` (the destination, during a copy): token use refuses as for `frozen`; the copy that
///   left the mark (same ``copyID``) may resume into it, any other copy is refused.
public struct StateMark: Codable, Sendable, Equatable {
    /// What the mark says.
    public enum Kind: String, Codable, Sendable {
        case frozen, moved, receiving
    }

    /// What the mark says.
    public var kind: Kind
    /// The other side of the copy: the destination (frozen, moved) or the source (receiving), as the
    /// user named it: a path or `postgres:env:NAME`, never a connection string.
    public var peer: String
    /// Which copy left the mark: the source store's identity, so a resumed copy recognizes its own
    /// partial destination.
    public var copyID: String
    /// When the mark was set.
    public var markedAt: Date

    /// `copyId` in Swift's spelling, so a snake_case coder writes `copy_id` and reads it back.
    enum CodingKeys: String, CodingKey {
        case kind, peer, copyID = "copyId", markedAt
    }

    /// Creates a mark.
    public init(kind: Kind, peer: String, copyID: String, markedAt: Date = Date()) {
        self.kind = kind
        self.peer = peer
        self.copyID = copyID
        self.markedAt = markedAt
    }

    /// The error token use (or any change) meets at a state carrying this mark, naming `location`.
    public func refusal(at location: String) -> StateMarkError {
        switch kind {
        case .frozen: .frozen(location: location, destination: peer)
        case .moved: .moved(location: location, destination: peer)
        case .receiving: .receiving(location: location, source: peer)
        }
    }
}

/// A state that `state copy` has marked: being copied, moved, or receiving a copy. Always exit 3.
public enum StateMarkError: ActionableError, Equatable {
    /// The state is being copied to `destination`: token use and changes wait for the copy.
    case frozen(location: String, destination: String)
    /// The state was moved to `destination`: it must never be used again.
    case moved(location: String, destination: String)
    /// The state is the destination of a copy from `source` that has not finished.
    case receiving(location: String, source: String)

    public var item: String {
        switch self {
        case .frozen(let location, _), .moved(let location, _), .receiving(let location, _): location
        }
    }
    public var problem: String {
        switch self {
        case .frozen(_, let destination): "is being copied to \(destination), so it refuses token use and changes"
        case .moved(_, let destination): "was moved to \(destination); this copy is stale and must not be used"
        case .receiving(_, let source): "is receiving a copy from \(source) that has not finished"
        }
    }
    public var remedy: String {
        switch self {
        case .frozen: "Retry later, once `tokenkeeper state copy` has finished (then use the destination)."
        case .moved(_, let destination): "Use \(destination) instead (--vault/--store, or the job spec's state)."
        case .receiving: "Run the same `tokenkeeper state copy` again to finish it."
        }
    }
    public var exitStatus: ExitStatus { .environment }
}

import Support

/// Why `state copy` stopped. Every case is an environment problem (exit 3): nothing was lost, the source
/// is frozen or untouched, and running the same copy again resumes it unless the remedy says otherwise.
public enum StateCopyError: ActionableError, Equatable {
    /// The destination holds tokens or secrets, or carries the mark of another copy.
    case destinationInUse(location: String, detail: String)
    /// Source and destination are the same store or the same vault.
    case sameState(location: String)
    /// Rows of the source still held live leases (refreshes under way) after the wait.
    case leasesHeld(location: String, rows: Int, waitedSeconds: Int)
    /// The destination does not hold what the source holds (named item, no value).
    case verificationFailed(item: String, detail: String)

    public var item: String {
        switch self {
        case .destinationInUse(let location, _), .sameState(let location), .leasesHeld(let location, _, _): location
        case .verificationFailed(let item, _): item
        }
    }
    public var problem: String {
        switch self {
        case .destinationInUse(_, let detail): "is not a new, empty destination: \(detail)"
        case .sameState: "is both the source and the destination of the copy"
        case .leasesHeld(_, let rows, let waited):
            "\(rows) row\(rows == 1 ? "" : "s") still held a lease (a refresh under way) after \(waited) s"
        case .verificationFailed(_, let detail): "the copy does not match the source: \(detail)"
        }
    }
    public var remedy: String {
        switch self {
        case .destinationInUse:
            "Copy into a new vault (made with `tokenkeeper vault init`) and a new or empty store; a partial destination "
                + "is resumed only by the copy that made it (same source)."
        case .sameState: "Name another vault and store with --to-vault and --to-store."
        case .leasesHeld:
            "The source stays frozen, so no new refresh starts; run the same `tokenkeeper state copy` again once "
                + "the refreshes under way are done (or their leases ended)."
        case .verificationFailed:
            "The source is still frozen and not marked moved; run the same `tokenkeeper state copy` again (it copies "
                + "every row again and checks anew)."
        }
    }
    public var exitStatus: ExitStatus { .environment }
}

import Support







/// A token store that tokenkeeper cannot use as it is, or a row it cannot find.

public enum StoreError: ActionableError {
    /// The store was written by a newer tokenkeeper.
    case schemaTooNew(path: String, found: Int, known: Int)
    /// A read-only open (dry run) found a store that needs a migration first.
    case needsMigration(path: String, found: Int, known: Int)
    /// No row for the key.
    case notFound(TokenKey)
    /// The row holds no refresh token any more.
    case tokenDropped(TokenKey)
    /// Committed changes could not be made durable (synced to disk) because other connections kept
    /// the store busy: the caller must not act as if they were (for example purge a key version).
    case notDurable(path: String)

    public var item: String {
        switch self {
        case .schemaTooNew(let path, _, _), .needsMigration(let path, _, _), .notDurable(let path): path
        case .notFound(let key), .tokenDropped(let key): key.description
        }
    }
    public var problem: String {
        switch self {
        case .schemaTooNew(_, let found, let known): "store schema version \(found) is newer than this tokenkeeper knows (\(known))"
        case .needsMigration(_, let found, let known): "store schema version \(found) must be upgraded to \(known), which a dry run may not do"
        case .notFound: "no stored token for this tenant, user and provider"
        case .tokenDropped: "the refresh token was dropped (revoked); only the record is left"
        case .notDurable: "the store stayed busy, so its latest changes could not be synced to disk yet"
        }
    }
    public var remedy: String {
        switch self {
        case .schemaTooNew: "Upgrade tokenkeeper to the version that wrote this store."
        case .needsMigration: "Run once without --dry-run (or any writing command) to upgrade the store."
        case .notFound: "Check the tenant, user and provider (`tokenkeeper token list`)."
        case .tokenDropped: "Have the user sign in again and store the new token with `tokenkeeper token put`."
        case .notDurable: "Nothing is lost; run the job again when fewer readers hold the store open (it finishes the step it skipped)."
        }
    }
    public var exitStatus: ExitStatus {
        switch self {
        case .schemaTooNew, .needsMigration: .environment
        case .notFound, .tokenDropped, .notDurable: .itemsFailed
        }
    }
}

import Support

/// A token store that tokenkeeper cannot use as it is, or a row it cannot find.

public enum StoreError: ActionableError {
    /// The store was written by a newer tokenkeeper.
    case schemaTooNew(path: String, found: Int, known: Int)
    /// A read-only open (dry run) found a store that needs a migration first.
    case needsMigration(path: String, found: Int, known: Int)
    /// A read-only open of a PostgreSQL store of an older schema needs temporary tables (empty stand-ins for
    /// the later migrations' tables), and the role may not create them (no TEMPORARY privilege on the database).
    case noTemporaryTables(path: String, found: Int, known: Int)
    /// No row for the key.
    case notFound(TokenKey)
    /// The row holds no refresh token any more.
    case tokenDropped(TokenKey)
    /// Committed changes could not be made durable (synced to disk) because other connections kept
    /// the store busy: the caller must not act as if they were (for example purge a key version).
    case notDurable(path: String)
    /// No store file at the path. Nothing but an explicit creation makes one (`state init`, or the first
    /// `token put`/`token import` of a new vault): a missing store is a share that did not mount or a bad copy.
    case missing(path: String)
    /// The file is empty (0 bytes, or a database without tokenkeeper's tables): a truncated store or a bad
    /// copy, never taken for a new store.
    case empty(path: String)
    /// Something is at the path already, so no new store is made there.
    case exists(path: String)
    /// The store's folder cannot be written (a read-only mount), and the command would change the store.
    case readOnlyFolder(path: String, folder: String)
    /// Copied rows were offered to a store that is not the destination of a copy under way.
    case notReceiving(path: String)

    public var item: String {
        switch self {
        case .schemaTooNew(let path, _, _), .needsMigration(let path, _, _), .noTemporaryTables(let path, _, _),
            .notDurable(let path), .missing(let path), .empty(let path),
            .exists(let path), .readOnlyFolder(let path, _), .notReceiving(let path):
            path
        case .notFound(let key), .tokenDropped(let key): key.description
        }
    }
    public var problem: String {
        switch self {
        case .schemaTooNew(_, let found, let known):
            "store schema version \(found) is newer than this tokenkeeper knows (\(known))"
        case .needsMigration(_, let found, let known):
            "store schema version \(found) must be upgraded to \(known), which a dry run may not do"
        case .noTemporaryTables(_, let found, let known):
            "store schema version \(found) predates \(known); a read-only session reads it through temporary tables, which this database role may not create (it lacks the TEMPORARY privilege on the database)"
        case .notFound: "no stored token for this tenant, user and provider"
        case .tokenDropped: "the refresh token was dropped (revoked); only the record is left"
        case .notDurable: "the store stayed busy, so its latest changes could not be synced to disk yet"
        case .missing: "there is no store file here"
        case .empty: "the store file is empty (a truncated file or a bad copy, not a store)"
        case .exists: "exists already, so no new store is made here"
        case .readOnlyFolder(_, let folder):
            "its folder \(folder) is read-only (a read-only mount?), and this command changes the store"
        case .notReceiving: "is not the destination of a copy under way, so copied rows are not written into it"
        }
    }
    public var remedy: String {
        switch self {
        case .schemaTooNew: "Upgrade tokenkeeper to the version that wrote this store."
        case .needsMigration: "Run once without --dry-run (or any writing command) to upgrade the store."
        case .noTemporaryTables:
            "Grant it as scripts/postgres/store-role.sql does (GRANT TEMPORARY ON DATABASE <the store's database> TO <the store's role>), or upgrade the store once with a writing command (`tokenkeeper state migrate`, or a run without --dry-run)."
        case .notFound: "Check the tenant, user and provider (`tokenkeeper token list`)."
        case .tokenDropped: "Have the user sign in again and store the new token with `tokenkeeper token put`."
        case .notDurable:
            "Nothing is lost; run the job again when fewer readers hold the store open (it finishes the step it skipped)."
        case .missing:
            "Restore it from a backup or mount the share that holds it; a new store is made only by `tokenkeeper state init`."
        case .empty: "Restore the store from a backup; tokenkeeper never takes an empty file for a new store."
        case .exists: "Use the store that is there, or move it away first if it really must be replaced."
        case .readOnlyFolder:
            "Run it where the state is writable; status, plan, token list and run --dry-run only read and work on a read-only mount."
        case .notReceiving: "Copy state only with `tokenkeeper state copy`, into a new, empty destination."
        }
    }
    public var exitStatus: ExitStatus {
        switch self {
        case .schemaTooNew, .needsMigration, .noTemporaryTables, .missing, .empty, .readOnlyFolder, .notReceiving:
            .environment
        case .exists: .usage
        case .notFound, .tokenDropped, .notDurable: .itemsFailed
        }
    }
}

import CSQLite
import Support

/// A failure reported by SQLite, with the extended result code, SQLite's message and the SQL text.
///
/// Bound values are never part of it: they may be sealed tokens (GRDB hides them the same way).

public struct SQLiteError: DatabaseFailure {
    /// The database file.
    public let path: String
    /// The extended result code (`sqlite3_extended_result_codes` is on for every connection).
    public let code: Int32
    /// SQLite's message from `sqlite3_errmsg`.
    public let message: String
    /// The statement that failed, if any.
    public let sql: String?

    public var item: String { path }
    public var problem: String {
        let statement = sql.map { " in `\($0.split(separator: "\n").joined(separator: " "))`" } ?? ""
        return "SQLite error \(code): \(message)\(statement)"
    }
    public var remedy: String {
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED:
            "Another process holds the store; wait for it to finish, or raise the busy timeout."
        case SQLITE_CORRUPT, SQLITE_NOTADB:
            "The store file is damaged or not a tokenkeeper store; restore it from a backup."
        case SQLITE_READONLY, SQLITE_PERM, SQLITE_CANTOPEN:
            "Check that the file and its folder exist and that this user may read and write them."
        case SQLITE_FULL, SQLITE_IOERR:
            "Check the disk (space, health) and try again."
        default:
            "Check the store file; if the problem stays, restore it from a backup."
        }
    }
    public var exitStatus: ExitStatus { .environment }

    /// Whether the error is `SQLITE_BUSY` (another connection holds a lock past the busy timeout).
    public var isBusy: Bool { code & 0xFF == SQLITE_BUSY }

    /// What kind of failure this is for a report, without the caller knowing SQLite's result codes:
    /// the layers above the store never import the database module.
    public var kind: DatabaseFailureKind {
        switch code & 0xFF {
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_CORRUPT, SQLITE_NOTADB: .corrupt
        default: .other
        }
    }

    public var reportCode: String {
        switch kind {
        case .busy: "sqlite_busy"
        case .corrupt: "sqlite_corrupt"
        case .other: "sqlite_\(code)"
        }
    }
}

/// The kind of a store failure (kept under the store's name for its callers).
public typealias StoreFailureKind = DatabaseFailureKind

/// The kinds of database failure a report tells apart: worth retrying later (busy), damaged state
/// (corrupt), or anything else about the environment.
public enum DatabaseFailureKind: Sendable, Equatable {
    /// Another connection held a lock past its timeout, the server went away or asked to retry: the next
    /// run may finish.
    case busy
    /// The database file or server reports damage, or the file is not a store.
    case corrupt
    /// Anything else (permissions, disk, I/O, a missing grant).
    case other
}

/// A failure reported by a database (SQLite, PostgreSQL), classified without the caller knowing the
/// database's result codes: the layers above the backends never import a database module, and a
/// report needs only the kind and a short code.
public protocol DatabaseFailure: ActionableError {
    /// What kind of failure this is for a report.
    var kind: DatabaseFailureKind { get }
    /// A short, stable code for reports and dashboards, such as `sqlite_5` or `postgres_40001`.
    var reportCode: String { get }
}

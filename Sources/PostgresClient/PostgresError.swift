import Support

/// A failure reported by PostgreSQL or libpq: the store's location (never the connection string), what
/// was being done, the SQLSTATE and the server's primary message, scrubbed of every value of the
/// connection string (libpq echoes hosts, users and database names).
///
/// Bound values and the server's DETAIL lines (which may quote a row) are never part of it.
public struct PostgresError: DatabaseFailure {
    /// Where the store is, as the caller named it (for example `postgres:env:TOKENKEEPER_STORE_URL`).
    public let location: String
    /// What was being done: `connect`, or the statement's purpose.
    public let operation: String
    /// The five-character SQLSTATE, nil when the failure never reached a server (connecting).
    public let sqlState: String?
    /// The primary message, scrubbed of the connection string's values.
    public let message: String

    public var item: String { location }
    public var problem: String {
        "PostgreSQL \(operation) failed\(sqlState.map { " (SQLSTATE \($0))" } ?? ""): \(message)"
    }
    public var remedy: String {
        switch sqlState?.prefix(2) {
        case nil, "08":
            "Check that the server runs and is reachable, and the connection string (host, database, user, password); the next run finishes what this one left."
        case "28": "Check the user and password of the connection string and the server's pg_hba.conf."
        case "25" where sqlState == "25006":
            "This session is read-only (a dry run, status); run without --dry-run to change the store."
        case "40", "55", "57", "53":
            "The server was busy or went away; nothing is lost, run again (the next run finishes the work)."
        case "42":
            "The database is not a tokenkeeper store of this version, or the role lacks a grant; check the connection string and the role's grants."
        case "XX": "The database reports damage; restore the store from a backup."
        default: "Check the server's log for this SQLSTATE; if the problem stays, restore the store from a backup."
        }
    }
    public var exitStatus: ExitStatus { .environment }

    /// What kind of failure this is for a report: a lost connection, a serialization failure, a
    /// deadlock, a lock or statement timeout or a server shutting down is worth retrying later (`busy`,
    /// reported as transient); a server reporting damage is `corrupt`; anything else `other`.
    public var kind: DatabaseFailureKind {
        guard let sqlState else { return .busy }
        switch sqlState.prefix(2) {
        case "08", "40", "53", "57": return .busy
        case "55" where sqlState == "55P03": return .busy
        case "XX" where sqlState == "XX001" || sqlState == "XX002": return .corrupt
        default: return .other
        }
    }

    public var reportCode: String { "postgres_" + (sqlState ?? "connection").lowercased() }

    /// Whether the statement broke a unique or other integrity constraint (SQLSTATE class 23).
    public var isConstraintViolation: Bool { sqlState?.hasPrefix("23") ?? false }
}

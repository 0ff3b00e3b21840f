import Foundation
import PostgresClient
import Support

/// The job lock on a PostgreSQL store (I7): a session-level advisory lock held by a session of the job's
/// own for the whole job. It dies with the session, as `flock` dies with the process: a job killed with
/// `kill -9`, or a session the server ends, frees it at once, so a crashed job never leaves a stale lock.
///
/// The session names its holder in `application_name` (host, pid, since when), so a job that waits in
/// vain says who holds the lock. It needs a direct connection or session pooling: PgBouncer's transaction
/// pooling hands the session to others between transactions and breaks session advisory locks. Token
/// use never takes it.
public final class PostgresJobLock {
    /// The session that holds the lock; closing it releases the lock.
    private(set) var connection: PostgresConnection?
    /// The lock's key: `hashtextextended('tokenkeeper job ' || name, 0)`.
    public let key: Int64

    private init(connection: PostgresConnection, key: Int64) {
        self.connection = connection
        self.key = key
    }

    deinit { release() }

    /// Takes the job lock `name` on the database `connectionString` names, waiting up to `timeout` seconds
    /// (polled every 100 ms) while another session holds it.
    /// - Parameters:
    ///   - holder: what a waiting job shows of this one, for example `host=ci-7 pid=4242 since=2026-12-02T00:44:15Z`
    ///     (at most 63 bytes reach the server).
    /// - throws: ``PostgresJobLockError/held(location:holder:waited:)`` after `timeout`; ``PostgresError``.
    public static func acquire(
        connectionString: String, location: String, name: String, holder: String, timeout: TimeInterval,
        tls: PostgresTLS = .verifiedOffHost
    ) throws -> PostgresJobLock {
        let connection = try PostgresConnection(
            connectionString: connectionString, location: location, readOnly: false, tls: tls)
        try connection.query(
            "SELECT set_config('application_name', $1, false)",
            [.text(String(("tokenkeeper job " + holder).prefix(63)))],
            purpose: "name the job lock's holder")
        let key = try connection.query(
            "SELECT hashtextextended($1, 0)", [.text("tokenkeeper job " + name)], purpose: "job lock key"
        ).int(0, 0)
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try connection.query("SELECT pg_try_advisory_lock($1)", [.int8(key)], purpose: "take the job lock").int(
                0, 0) != 0
            {
                return PostgresJobLock(connection: connection, key: key)
            }
            guard Date() < deadline else {
                throw PostgresJobLockError.held(
                    location: location, holder: try Self.holder(of: key, on: connection), waited: timeout)
            }
            usleep(100_000)
        }
    }

    /// Who holds the lock `key` in this database (advisory locks are per database): the holding session's `application_name`, pid and start, or "" when it
    /// was freed meanwhile.
    private static func holder(of key: Int64, on connection: PostgresConnection) throws -> String {
        let rows = try connection.query(
            """
            SELECT activity.application_name, activity.pid, to_char(activity.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM pg_locks locks JOIN pg_stat_activity activity ON activity.pid = locks.pid
            WHERE locks.locktype = 'advisory' AND locks.granted AND locks.objsubid = 1
              AND locks.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND locks.classid = (($1 >> 32) & 4294967295)::oid AND locks.objid = ($1 & 4294967295)::oid
            """, [.int8(key)], purpose: "find the job lock's holder")
        guard rows.count > 0 else { return "" }
        return
            "\(DisplayText.escaped(rows.text(0, 0))), server session \(rows.int(0, 1)) connected at \(rows.text(0, 2))"
    }

    /// Releases the lock by closing its session. Safe to call more than once.
    public func release() {
        connection = nil
    }
}

@available(*, unavailable)
extension PostgresJobLock: Sendable {}

/// The PostgreSQL job lock could not be taken.
public enum PostgresJobLockError: ActionableError {
    /// Another session held the lock for the whole wait.
    case held(location: String, holder: String, waited: TimeInterval)

    public var item: String {
        switch self {
        case .held(let location, _, _): location
        }
    }
    public var problem: String {
        switch self {
        case .held(_, let holder, let waited):
            "another tokenkeeper job holds the job lock (\(holder.isEmpty ? "holder unknown" : holder)); waited \(Int(waited)) s"
        }
    }
    public var remedy: String {
        "Wait for that job to finish, or give a longer --lock-timeout. The lock frees itself when its holder's session ends "
            + "(the job exits or is killed); behind a pooler, the job needs a direct connection or session pooling."
    }
    public var exitStatus: ExitStatus { .environment }
}

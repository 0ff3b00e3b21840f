import Foundation
import PostgresClient
import Support

/// The job lock on a PostgreSQL store (I7): session-level advisory locks held by a session of the job's
/// own for the whole job. They die with the session, as `flock` dies with the process: a job killed with
/// `kill -9`, or a session the server ends, frees them at once, so a crashed job never leaves a stale lock.
///
/// Who may hold the state together (``PostgresJobLockMode``):
/// - An unsharded job takes the state key EXCLUSIVE (`pg_try_advisory_lock`): nothing else meanwhile.
/// - Shard K of run R split N ways first takes the key of (R, N) SHARED, and never lets it go before the
///   session ends; then the key of (R, N, K) EXCLUSIVE, kept for the whole job too, so a second copy of
///   shard K (a CI retry while the first still runs) waits and is refused naming the first, while the
///   run's other shards pass; then, holding the brief EXCLUSIVE admission key, it checks `pg_locks` for any
///   other session that holds the state key without holding (R, N)'s key, and only when there is none takes
///   the state key SHARED; then it lets the admission key go. The admission key makes check-and-take one
///   step, so two shards of different runs can never both pass the check; the registry of who holds the state is the
///   server's own lock table, tied to live sessions, so a killed shard's share is gone with its session.
///   An unsharded job's EXCLUSIVE take fails while any shard holds a share, and a shard's check sees an
///   unsharded holder (which holds no run key), so the two exclude each other without the admission key.
/// Every take is a try, polled every 100 ms until the timeout, so no session ever queues on a key.
///
/// The session names its holder in `application_name` (host, pid, since when, and a shard's run and K/N), so
/// a job that waits in vain says who holds the lock. It needs a direct connection or session pooling:
/// PgBouncer's transaction pooling hands the session to others between transactions and breaks session
/// advisory locks. Token use never takes it.
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
    /// (polled every 100 ms) while another session holds it in a way `mode` may not share.
    /// - Parameters:
    ///   - holder: what a waiting job shows of this one, for example `pid=4242 since=2026-12-02T00:44:15Z host=ci-7`
    ///     (at most 63 bytes reach the server).
    ///   - mode: the whole job alone, or one shard of a run that the run's other shards may join.
    /// - throws: ``PostgresJobLockError/held(location:holder:waited:)`` after `timeout`; ``PostgresError``.
    public static func acquire(
        connectionString: String, location: String, name: String, holder: String, timeout: TimeInterval,
        mode: PostgresJobLockMode = .exclusive, tls: PostgresTLS = .verifiedOffHost
    ) throws -> PostgresJobLock {
        let connection = try PostgresConnection(
            connectionString: connectionString, location: location, readOnly: false, tls: tls)
        try connection.query(
            "SELECT set_config('application_name', $1, false)",
            [.text(String(("tokenkeeper job " + holder).prefix(63)))],
            purpose: "name the job lock's holder")
        func key(_ text: String) throws -> Int64 {
            try connection.query("SELECT hashtextextended($1, 0)", [.text(text)], purpose: "job lock key").int(0, 0)
        }
        let stateKey = try key("tokenkeeper job " + name)
        if case .shard(let run, let count, let index) = mode {
            let admission = try key("tokenkeeper job " + name + " admission")
            let shared = try key("tokenkeeper job " + name + " run " + run + " of \(count)")
            let own = try key("tokenkeeper job " + name + " run " + run + " shard \(index) of \(count)")
            // Nobody ever takes a run key exclusive, so this share is always granted.
            try connection.query("SELECT pg_advisory_lock_shared($1)", [.int8(shared)], purpose: "join the run")
            var holdsOwn = false
            try poll(timeout: timeout) {
                // The shard's own key first, kept once taken: a second copy of shard K waits here.
                if !holdsOwn { holdsOwn = try flag(connection, "SELECT pg_try_advisory_lock($1)", own) }
                guard holdsOwn else { return false }
                guard try flag(connection, "SELECT pg_try_advisory_lock($1)", admission) else { return false }
                defer {
                    _ = try? connection.query("SELECT pg_advisory_unlock($1)", [.int8(admission)], purpose: "admit")
                }
                guard try holders(of: stateKey, outside: shared, on: connection).isEmpty else { return false }
                return try flag(connection, "SELECT pg_try_advisory_lock_shared($1)", stateKey)
            } onTimeout: {
                // Still without its own key, a copy of this shard holds it; else whoever keeps the run out.
                let found =
                    try holdsOwn
                    ? holders(of: stateKey, outside: shared, on: connection)
                    : holders(of: own, outside: nil, on: connection)
                return PostgresJobLockError.held(location: location, holder: found.first ?? "", waited: timeout)
            }
        } else {
            try poll(timeout: timeout) {
                try flag(connection, "SELECT pg_try_advisory_lock($1)", stateKey)
            } onTimeout: {
                PostgresJobLockError.held(
                    location: location, holder: try holders(of: stateKey, outside: nil, on: connection).first ?? "",
                    waited: timeout)
            }
        }
        return PostgresJobLock(connection: connection, key: stateKey)
    }

    /// Calls `attempt` every 100 ms until it returns true, or throws what `onTimeout` makes after `timeout`.
    private static func poll(
        timeout: TimeInterval, _ attempt: () throws -> Bool, onTimeout: () throws -> PostgresJobLockError
    ) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if try attempt() { return }
            guard Date() < deadline else { throw try onTimeout() }
            usleep(100_000)
        }
    }

    /// The boolean `sql` (one of the `pg_try_advisory_lock` family) returns for `key`.
    private static func flag(_ connection: PostgresConnection, _ sql: String, _ key: Int64) throws -> Bool {
        try connection.query(sql, [.int8(key)], purpose: "take the job lock").int(0, 0) != 0
    }

    /// The other sessions in this database (advisory locks are per database) that hold `key` (shared or
    /// exclusive) without holding `runKey` (nil: any that hold `key`), oldest first, each described by its
    /// `application_name`, pid and start.
    private static func holders(of key: Int64, outside runKey: Int64?, on connection: PostgresConnection) throws
        -> [String]
    {
        let matches = { (alias: String, parameter: String) in
            """
            \(alias).locktype = 'advisory' AND \(alias).granted AND \(alias).objsubid = 1
              AND \(alias).database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND \(alias).classid = ((\(parameter) >> 32) & 4294967295)::oid AND \(alias).objid = (\(parameter) & 4294967295)::oid
            """
        }
        let rows = try connection.query(
            """
            SELECT activity.application_name, activity.pid, to_char(activity.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
            FROM pg_locks locks JOIN pg_stat_activity activity ON activity.pid = locks.pid
            WHERE \(matches("locks", "$1::bigint")) AND locks.pid != pg_backend_pid()
              AND ($2::bigint IS NULL OR NOT EXISTS (
                SELECT 1 FROM pg_locks run WHERE run.pid = locks.pid AND \(matches("run", "$2::bigint"))))
            ORDER BY activity.backend_start, activity.pid
            """, [.int8(key), runKey.map { .int8($0) } ?? .null(oid: PostgresValue.Oid.int8)],
            purpose: "find the job lock's holder")
        return (0..<rows.count).map {
            "\(DisplayText.escaped(rows.text($0, 0))), server session \(rows.int($0, 1)) connected at \(rows.text($0, 2))"
        }
    }

    /// Releases the lock by closing its session. Safe to call more than once.
    public func release() {
        connection = nil
    }
}

/// How a job holds the PostgreSQL job lock (``PostgresJobLock``).
public enum PostgresJobLockMode: Sendable, Equatable {
    /// The whole job: no other job, shard or run meanwhile.
    case exclusive
    /// Shard `index` (K) of run `run` split `count` ways: together with that run's other shards (of the
    /// same `count`), and nothing else, not even a second copy of shard K (a CI retry while the first
    /// still runs), which waits for the first to end.
    case shard(run: String, count: Int, index: Int)
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

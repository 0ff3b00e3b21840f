import Foundation
import Spec
import Store
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// The job lock of one run (I7), on whatever holds the state: the one place that decides which locks a
/// run takes, so a later rule (the N shards of one run admitted together) is a change here alone.
///
/// - A store on PostgreSQL: a session-level advisory lock on the store's database (``PostgresJobLock``),
///   held by a session of the job's own for the whole job; it dies with the session, so `kill -9` of the
///   job frees it. It needs a direct connection or session pooling (PgBouncer's transaction pooling
///   breaks session advisory locks).
/// - Files (a vault folder, an SQLite store): `flock` on `<path>.lock` beside each (``JobLock``).
///
/// A vault on PostgreSQL needs no lock of its own: it serves one store, whose lock covers it. Token use
/// never takes any of these.
package final class JobLockHold {
    private var fileLock: JobLock?
    private(set) var serverLock: PostgresJobLock?

    private init(fileLock: JobLock?, serverLock: PostgresJobLock?) {
        self.fileLock = fileLock
        self.serverLock = serverLock
    }

    deinit { release() }

    /// Takes the locks `spec`'s state needs, waiting up to `options.lockTimeout` for each.
    /// - Parameters:
    ///   - runID: written into the file lock, for the message a waiting job prints.
    /// - throws: ``JobLockError/held(path:holder:waited:)`` or ``PostgresJobLockError/held(location:holder:waited:)``
    ///   naming the holder (exit 3); file, ownership, connection string and connection errors.
    package static func acquire(spec: JobSpec, options: RunOptions, runID: String) throws -> JobLockHold {
        // The server's lock first, the one every host sees; then the files. Every job takes them in this order,
        // so two jobs never deadlock.
        var serverLock: PostgresJobLock?
        if case .postgres(let connection, let tls) = spec.store {
            serverLock = try PostgresJobLock.acquire(
                connectionString: try connection.resolve(environment: options.environment).revealed,
                location: spec.store.description, name: "state", holder: holder(since: Date()),
                timeout: options.lockTimeout, tls: tls)
        }
        var files: [String] = []
        if case .folder(let path) = spec.vault { files.append(path) }
        if case .sqlite(let path) = spec.store { files.append(path) }
        guard !files.isEmpty else { return JobLockHold(fileLock: nil, serverLock: serverLock) }
        let fileLock = try JobLock.acquire(
            protecting: files, timeout: options.lockTimeout,
            owner: "job \(spec.name), run \(runID)\(options.dryRun ? " (dry run)" : "")", readOnly: options.dryRun)
        return JobLockHold(fileLock: fileLock, serverLock: serverLock)
    }

    /// Releases every lock now (also done on deinit, and by the kernel or the server when the process dies).
    package func release() {
        fileLock?.release()
        fileLock = nil
        serverLock?.release()
        serverLock = nil
    }

    /// `pid=4242 since=2026-12-02T00:44:15Z host=ci-7`, cut to the 47 bytes `application_name` has left
    /// after `tokenkeeper job ` (the host last, as the longest part and the one the server's own record of
    /// the session's address can stand in for).
    static func holder(since: Date) -> String {
        let text =
            "pid=\(getpid()) since=\(DateText.timestamp(since)) host=\(DisplayText.escaped(JobRunner.hostname()))"
        return String(decoding: Array(text.utf8).prefix(47), as: UTF8.self)
    }
}

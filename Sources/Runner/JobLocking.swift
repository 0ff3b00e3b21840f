import Custody
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
///   breaks session advisory locks). An unsharded run takes it exclusive; a shard (`--shard K/N`, N > 1)
///   takes it shared with the other shards of its run (same `--run-id`, same N) and nothing else; a
///   second copy of the same shard K of that run is refused too.
///   A sharded run that changes state has its vault on PostgreSQL too (``JobRunner/checkShard()``): a vault
///   folder is on one host, and its `flock` cannot be shared by shards on several hosts.
/// - Files (a vault folder, an SQLite store): `flock` on `<path>.lock` beside each (``JobLock``).
///
/// A vault on PostgreSQL needs no lock of its own: it serves one store, whose lock covers it. Token use
/// never takes any of these.
package final class JobLockHold {
    private var fileLock: JobLock?
    private(set) var serverLock: PostgresJobLock?
    /// Further server locks, when one command holds several states (`state copy`: source and destination).
    private var moreServerLocks: [PostgresJobLock] = []

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
                location: spec.store.description, name: "state",
                holder: holder(since: Date(), shard: options.shard, runID: runID),
                timeout: options.lockTimeout,
                mode: options.shard.isWhole
                    ? .exclusive : .shard(run: runID, count: options.shard.count, index: options.shard.index),
                tls: tls)
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

    /// Takes the job locks of several states at once, as ``acquire(spec:options:runID:)`` takes one
    /// state's: `state copy` holds its source and its destination so no job runs on either meanwhile. The
    /// servers' locks first (in the order of their names), then the files, in one order for every caller.
    /// - Parameters:
    ///   - owner: written into the file lock, for the message a waiting job prints.
    /// - throws: as ``acquire(spec:options:runID:)``.
    package static func acquire(
        stores: [StoreLocation], vaults: [VaultLocation], owner: String, timeout: TimeInterval,
        environment: [String: String]
    ) throws -> JobLockHold {
        var serverLocks: [PostgresJobLock] = []
        let servers = stores.compactMap { store -> (location: String, connection: SecretReference, tls: PostgresTLS)? in
            guard case .postgres(let connection, let tls) = store else { return nil }
            return (store.description, connection, tls)
        }.sorted { $0.location < $1.location }
        var seen = Set<String>()
        for server in servers where seen.insert(server.location).inserted {
            serverLocks.append(
                try PostgresJobLock.acquire(
                    connectionString: try server.connection.resolve(environment: environment).revealed,
                    location: server.location, name: "state", holder: holder(since: Date()), timeout: timeout,
                    tls: server.tls))
        }
        var files: [String] = []
        for vault in vaults { if case .folder(let path) = vault { files.append(path) } }
        for store in stores { if case .sqlite(let path) = store { files.append(path) } }
        let fileLock = try files.isEmpty ? nil : JobLock.acquire(protecting: files, timeout: timeout, owner: owner)
        let hold = JobLockHold(fileLock: fileLock, serverLock: serverLocks.first)
        hold.moreServerLocks = Array(serverLocks.dropFirst())
        return hold
    }

    /// Releases every lock now (also done on deinit, and by the kernel or the server when the process dies).
    package func release() {
        fileLock?.release()
        fileLock = nil
        serverLock?.release()
        serverLock = nil
        for lock in moreServerLocks { lock.release() }
        moreServerLocks = []
    }

    /// `pid=4242 since=2026-12-02T00:44:15Z host=ci-7` (a shard: `pid=4242 shard=2/4 run=20451 since=...`), cut
    /// to the 47 bytes `application_name` has left after `tokenkeeper job ` (the host last, as the longest
    /// part and the one the server's own record of the session's address can stand in for).
    static func holder(since: Date, shard: TenantShard = .whole, runID: String = "") -> String {
        let part = shard.isWhole ? "" : " shard=\(shard) run=\(runID)"
        let text =
            "pid=\(getpid())\(part) since=\(DateText.timestamp(since)) host=\(DisplayText.escaped(JobRunner.hostname()))"
        return String(decoding: Array(text.utf8).prefix(47), as: UTF8.self)
    }
}

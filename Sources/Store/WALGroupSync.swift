import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// Makes committed transactions of one SQLite store durable against power loss, with one `fdatasync`
/// of its WAL for every commit waiting at that moment (group commit).
///
/// Why: the store runs `synchronous=NORMAL`, so a commit survives a crash of the process at once but a
/// power cut only after the WAL is synced. A refreshed token the provider has just rotated must survive
/// both (I8): the old one is dead at the provider. `synchronous=FULL` would sync inside each commit,
/// holding SQLite's write lock through the sync, so concurrent refreshes would queue behind each other's
/// syncs; here commits stay short and the refreshes that commit while a sync runs share the next one.
///
/// Why syncing the `-wal` file is enough: in WAL mode a commit only appends frames to the WAL. Frames
/// that are still there are made durable by syncing it; frames that a checkpoint already copied out are
/// durable because a checkpoint syncs the WAL before copying and the database file after (also under
/// NORMAL), and SQLite restarts or deletes the WAL only after a complete checkpoint. So a missing WAL
/// file means there is nothing unsynced. The folder is synced too whenever the WAL file is new to this
/// object, so the file's directory entry survives as well. This descriptor only ever syncs: SQLite keeps
/// no POSIX lock on the WAL (its locks are on the database and `-shm` files), so opening and closing it
/// here cannot drop one of SQLite's locks.
///
/// One object per store file per process (``forStore(path:)``), shared by every connection to it, so
/// the refresh stage's workers and concurrent web requests group their syncs. Thread-safe: its state is
/// guarded by a lock, and the syncs run one at a time on a private queue, off Swift's cooperative
/// threads; callers wait without blocking a thread.

package final class WALGroupSync: @unchecked Sendable {
    /// The store's write-ahead log, `<store>-wal`.
    package let walPath: String
    private let folder: String
    /// The serial queue the syncs run on (tests hold it busy to make callers pile up).
    package let queue: DispatchQueue
    private let lock = NSLock()
    // Guarded by `lock`.
    private var requested: UInt64 = 0
    private var waiters: [(ticket: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
    private var running = false
    private var syncs = 0
    // Only touched on `queue`: the WAL file (device, inode) whose folder entry is known to be synced.
    private var syncedEntry: (dev_t, ino_t)?

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [String: WALGroupSync] = [:]  // guarded by registryLock

    /// The one object for the store at `path` in this process.
    package static func forStore(path: String) -> WALGroupSync {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        return registryLock.withLock {
            if let existing = registry[absolute] { return existing }
            let created = WALGroupSync(storePath: absolute)
            registry[absolute] = created
            return created
        }
    }

    private init(storePath: String) {
        walPath = storePath + "-wal"
        folder = PathText.parent(of: storePath)
        queue = DispatchQueue(label: "tokenkeeper.store.wal-sync")
    }

    /// How many syncs have run so far (for tests: concurrent callers share them).
    package var syncCount: Int { lock.withLock { syncs } }

    /// How many callers wait for a sync now (for tests).
    package var waitingCount: Int { lock.withLock { waiters.count } }

    /// Returns once every transaction this process committed to the store before the call is on disk.
    /// - throws: ``FileSystemError`` when the sync fails (the commits stay, but may not survive a power cut).
    package func sync() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let start: Bool = lock.withLock {
                requested += 1
                waiters.append((requested, continuation))
                let idle = !running
                running = true
                return idle
            }
            if start { queue.async { self.drain() } }
        }
    }

    /// Runs syncs until nobody waits: each one covers every caller that asked before it started.
    private func drain() {
        while true {
            let target = lock.withLock { requested }
            let result = Result { try syncWAL() }
            let (ready, more): ([CheckedContinuation<Void, any Error>], Bool) = lock.withLock {
                syncs += 1
                let ready = waiters.filter { $0.ticket <= target }.map(\.continuation)
                waiters.removeAll { $0.ticket <= target }
                running = !waiters.isEmpty
                return (ready, running)
            }
            for continuation in ready { continuation.resume(with: result) }
            guard more else { return }
        }
    }

    /// `fdatasync` of the WAL, and of the folder when the WAL file is new to this object.
    private func syncWAL() throws {
        let fd = open(walPath, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            // No WAL: the last connection checkpointed everything into the (synced) database file and removed it.
            if errno == ENOENT { return }
            throw FileSystemError(path: walPath, operation: "open the store's write-ahead log to sync it", code: errno)
        }
        defer { close(fd) }
        guard fdatasync(fd) == 0 else {
            throw FileSystemError(
                path: walPath, operation: "sync the store's write-ahead log", code: errno,
                advice: "The refreshed tokens are committed but may not survive a power cut; check the disk.")
        }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw FileSystemError(path: walPath, operation: "stat", code: errno) }
        if syncedEntry.map({ $0 != (status.st_dev, status.st_ino) }) ?? true {
            try PrivateFiles.syncDirectory(folder.isEmpty ? "." : folder)
            syncedEntry = (status.st_dev, status.st_ino)
        }
    }
}

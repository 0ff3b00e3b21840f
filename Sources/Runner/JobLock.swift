import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The exclusive lock that lets one job at a time work on a vault and a store (invariant I7).
///
/// It is an advisory `flock(2)` on a lock file beside the protected path (`<path>.lock`), so the
/// kernel releases it when the holder dies, even by `kill -9`: a crashed job never leaves a stale
/// lock. The lock file is beside the vault folder and the store, not inside them, so a dry run that
/// takes the lock leaves vault and store byte-identical (I5). The holder writes its pid and start
/// time into the file so that a waiting job can say who holds it.
///
/// Token use (`token access`, the library API) never takes this lock: it coordinates through row
/// leases and SQLite transactions, so a nightly job never blocks a user's request.

package final class JobLock {
    /// The lock files held, in the order they were taken.
    package let paths: [String]
    private var descriptors: [Int32]

    private init(paths: [String], descriptors: [Int32]) {
        self.paths = paths
        self.descriptors = descriptors
    }

    deinit { release() }

    /// Takes the locks for every protected path, in a fixed (sorted) order so two jobs never deadlock.
    /// - Parameters:
    ///   - protectedPaths: the vault folder and the store file.
    ///   - timeout: how long to wait for a lock another job holds.
    ///   - owner: a short description of this job written into the lock file (run id, job name).
    ///   - readOnly: for a dry run: on a read-only folder (a read-only mount) an existing lock file is locked
    ///     through a read-only descriptor, and a missing one is skipped (no job has run on this state, and
    ///     none can through this mount).
    /// - throws: ``JobLockError/held`` after `timeout`, naming the holder; ``FileSystemError`` when a lock
    ///   file cannot be created or is a symbolic link; ``WritableStateFolderError`` and ``ForeignOwnerError``
    ///   for a folder others could plant links in, or a folder or lock file of another user.
    package static func acquire(
        protecting protectedPaths: [String], timeout: TimeInterval, owner: String,
        readOnly: Bool = false
    ) throws -> JobLock {
        let lockPaths = Array(Set(protectedPaths.map { Self.lockPath(for: $0) })).sorted()
        var taken: [Int32] = []
        do {
            for path in lockPaths {
                if let descriptor = try lockOne(path, timeout: timeout, owner: owner, readOnly: readOnly) {
                    taken.append(descriptor)
                }
            }
        } catch {
            for descriptor in taken { close(descriptor) }
            throw error
        }
        return JobLock(paths: lockPaths, descriptors: taken)
    }

    /// The lock file for a protected path: `<path>.lock`, with a trailing slash removed.
    package static func lockPath(for protectedPath: String) -> String {
        var path = protectedPath
        while path.count > 1, path.hasSuffix("/") { path.removeLast() }
        return path + ".lock"
    }

    /// Releases every lock now (also done on deinit and, by the kernel, on process exit).
    package func release() {
        for descriptor in descriptors {
            flock(descriptor, LOCK_UN)
            close(descriptor)
        }
        descriptors = []
    }

    private static func lockOne(_ path: String, timeout: TimeInterval, owner: String, readOnly: Bool) throws -> Int32? {
        let parent = PathText.parent(of: path)
        // The folder is never created here (a missing one means missing state), and must not let others
        // plant a link where the lock file goes.
        try StateOwnership.requireSafeFolder(parent.isEmpty ? "." : parent)
        guard let (descriptor, writable) = try openLockFile(path, readOnly: readOnly) else { return nil }
        do {
            try StateOwnership.requireOwnedPlainFile(descriptor, path: path)
        } catch {
            close(descriptor)
            throw error
        }
        let deadline = Date().addingTimeInterval(max(0, timeout))
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            guard code == EWOULDBLOCK || code == EINTR else {
                close(descriptor)
                throw FileSystemError(path: path, operation: "lock", code: code)
            }
            if Date() >= deadline {
                let holder = (try? PrivateFiles.readFile(path)).map { String(decoding: $0, as: UTF8.self) } ?? ""
                close(descriptor)
                throw JobLockError.held(
                    path: path, holder: holder.trimmingCharacters(in: .whitespacesAndNewlines),
                    waited: timeout)
            }
            usleep(50_000)
        }
        // Record who holds it, for the message a waiting job prints.
        if writable {
            let note = Array("pid \(getpid()) since \(ISO8601DateFormatter().string(from: Date())): \(owner)\n".utf8)
            if ftruncate(descriptor, 0) == 0 { _ = try? PrivateFiles.writeAll(fd: descriptor, bytes: note, path: path) }
            lseek(descriptor, 0, SEEK_SET)
        }
        return descriptor
    }

    /// Opens the lock file without ever following a symbolic link, creating it (exclusively) when it is
    /// missing. On a read-only folder, for a dry run, opens an existing one read-only (flock works on it)
    /// and returns nil for a missing one.
    private static func openLockFile(_ path: String, readOnly: Bool) throws -> (descriptor: Int32, writable: Bool)? {
        let descriptor = PrivateFiles.openNoFollow(path, flags: O_RDWR)
        if descriptor >= 0 { return (descriptor, true) }
        let code = errno
        switch code {
        case ELOOP:
            throw FileSystemError(
                path: path, operation: "open lock file", code: code,
                advice: "The lock file is a symbolic link; tokenkeeper never writes through one. Remove it, "
                    + "and check who can write its folder.")
        case EROFS where readOnly, EACCES where readOnly:
            let reader = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            if reader >= 0 { return (reader, false) }
            if errno == ENOENT { return nil }
            throw FileSystemError(path: path, operation: "open lock file", code: errno)
        case EROFS:
            throw FileSystemError(
                path: path, operation: "open lock file", code: code,
                advice: "The state's folder is read-only (a read-only mount?), and a run changes the state. "
                    + "Commands that only read (status, plan, token list, run --dry-run) work on a read-only mount.")
        case EACCES:
            throw FileSystemError(
                path: path, operation: "open lock file", code: code,
                advice: "This user may not create files in the folder that holds the vault and the store; "
                    + "run as the state's owner, or give the folder to the user that runs the jobs.")
        default:
            throw FileSystemError(path: path, operation: "open lock file", code: code)
        }
    }
}

/// The job lock could not be taken.
package enum JobLockError: ActionableError {
    /// Another job held the lock for the whole wait.
    case held(path: String, holder: String, waited: TimeInterval)

    package var item: String {
        switch self {
        case .held(let path, _, _): path
        }
    }
    package var problem: String {
        switch self {
        case .held(_, let holder, let waited):
            "another tokenkeeper job holds the lock (\(holder.isEmpty ? "holder unknown" : holder)); waited \(Int(waited)) s"
        }
    }
    package var remedy: String {
        "Wait for that job to finish, or give a longer --lock-timeout. The lock frees itself when its holder exits."
    }
    package var exitStatus: ExitStatus { .environment }
}

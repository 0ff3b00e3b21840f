import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Support

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
    /// - throws: ``JobLockError/held`` after `timeout`, naming the holder; ``FileSystemError`` when a lock
    ///   file cannot be created.
    package static func acquire(protecting protectedPaths: [String], timeout: TimeInterval, owner: String) throws -> JobLock {
        let lockPaths = Array(Set(protectedPaths.map { Self.lockPath(for: $0) })).sorted()
        var taken: [Int32] = []
        do {
            for path in lockPaths {
                taken.append(try lockOne(path, timeout: timeout, owner: owner))
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

    private static func lockOne(_ path: String, timeout: TimeInterval, owner: String) throws -> Int32 {
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty, !PrivateFiles.exists(parent) { try PrivateFiles.createPrivateDirectory(parent) }
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, PrivateFiles.fileMode)
        guard descriptor >= 0 else { throw FileSystemError(path: path, operation: "open lock file", code: errno) }
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
                throw JobLockError.held(path: path, holder: holder.trimmingCharacters(in: .whitespacesAndNewlines),
                                        waited: timeout)
            }
            usleep(50_000)
        }
        // Record who holds it, for the message a waiting job prints.
        let note = Array("pid \(getpid()) since \(ISO8601DateFormatter().string(from: Date())): \(owner)\n".utf8)
        if ftruncate(descriptor, 0) == 0 { _ = try? PrivateFiles.writeAll(fd: descriptor, bytes: note, path: path) }
        lseek(descriptor, 0, SEEK_SET)
        return descriptor
    }
}

/// The job lock could not be taken.
package enum JobLockError: ActionableError {
    /// Another job held the lock for the whole wait.
    case held(path: String, holder: String, waited: TimeInterval)

    package var item: String {
        switch self { case .held(let path, _, _): path }
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

import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// The vault's append-only audit log, `audit.log`: one JSON object per line with time, principal,
/// operation, secret, version and outcome. It never holds a key or token value.
///
/// Durability: every mutation (and every denied attempt) is written and fsynced before the call that
/// made it returns. Reads (each key fetch) are buffered in memory and written with one `write(2)` and
/// one `fsync` within ``flushDelay`` of the first one buffered, so a busy process does not pay a sync
/// per key fetch; a killed process loses at most the reads of its last second, never a mutation. The
/// buffer is also written before any mutation (so the file keeps this process's order), when it grows
/// past 64 KiB, by ``flush()`` (``FileVault/flushAuditLog()``, a vault's deinit), by ``flushAll()``
/// (the command line's exit path) and at `exit(3)` (an `atexit` handler, for library users).
///
/// Each write is one `write(2)` of whole lines on a descriptor opened with `O_APPEND`, so entries from
/// several processes never interleave; lines are in time order within a process, while a buffered read
/// may land after another process's later entry (each line carries its time). When a buffered write
/// fails, the entries stay buffered and the next audited call retries them first and throws if it still
/// fails, so reads stop (at most a second late) when the log cannot be written.
///
/// One object per log file per process (``at(_:)``), shared by every ``FileVault`` on it. Thread-safe.

package final class AuditLog: @unchecked Sendable {
    /// The log file.
    package let path: String

    /// How long a read's entry may wait in memory before it is written and synced.
    package static let flushDelay: TimeInterval = 0.5
    /// Buffered bytes past which a read's entry is written at once.
    static let bufferLimit = 65_536

    /// One entry.
    package struct Entry: Encodable {
        var time: Date
        var principal: String
        var operation: String
        var secret: String?
        var version: Int?
        /// `ok`, `denied` or `error`.
        var outcome: String
    }

    /// Where the delayed flush runs: a private serial queue, which gets a thread of its own even while
    /// the shared global queues are busy with blocking work (their width is the core count).
    private let flushQueue = DispatchQueue(label: "tokenkeeper.vault.audit-flush")
    /// Serializes writes to the file, so buffered lines are written in the order they were taken.
    private let writeLock = NSLock()
    /// Guards `pending`, `flushScheduled` and `failure`.
    private let bufferLock = NSLock()
    private var pending: [UInt8] = []
    private var flushScheduled = false
    /// The error of the last buffered write that failed (its entries are still in `pending`).
    private var failure: (any Error)?

    private static let registryLock = NSLock()
    nonisolated(unsafe) private static var registry: [String: AuditLog] = [:]  // guarded by registryLock

    /// The one log object for `path` in this process.
    package static func at(_ path: String) -> AuditLog {
        let path = URL(fileURLWithPath: path).standardizedFileURL.path
        return registryLock.withLock {
            if registry.isEmpty {
                // Library users' processes end through exit(3) too: write what is buffered then.
                atexit { _ = AuditLog.flushAll() }
            }
            if let log = registry[path] { return log }
            let log = AuditLog(path: path)
            registry[path] = log
            return log
        }
    }

    private init(path: String) {
        self.path = path
    }

    /// Appends one entry.
    /// - Parameter durably: write and fsync it (after anything buffered) before returning: for mutations
    ///   and denied attempts. Otherwise (reads) it is buffered and synced within ``flushDelay``.
    /// - throws: ``FileSystemError`` when the log cannot be written (for a buffered entry: when an earlier
    ///   buffered write failed and still fails).
    package func append(_ entry: Entry, durably: Bool) throws {
        var line = Array(try VaultFileCodec.encoder.encode(entry))
        line.append(0x0A)
        if durably {
            try write(appending: line)
            return
        }
        if bufferLock.withLock({ failure != nil }) { try flush() }
        let (schedule, full): (Bool, Bool) = bufferLock.withLock {
            pending += line
            let schedule = !flushScheduled
            flushScheduled = true
            return (schedule, pending.count >= Self.bufferLimit)
        }
        if full {
            try flush()
        } else if schedule {
            flushQueue.asyncAfter(deadline: .now() + Self.flushDelay) { [self] in
                bufferLock.withLock { flushScheduled = false }
                try? flush()  // a failure stays recorded; the next audited call retries and reports it
            }
        }
    }

    /// Appends `entries` durably with one `write(2)` (after anything buffered) and one `fsync`: the
    /// vault's batched changes, one entry per secret as the single calls write, for one sync in all.
    /// - throws: ``FileSystemError`` when the log cannot be written.
    package func appendDurably(_ entries: [Entry]) throws {
        var lines: [UInt8] = []
        for entry in entries {
            lines += Array(try VaultFileCodec.encoder.encode(entry))
            lines.append(0x0A)
        }
        try write(appending: lines)
    }

    /// Writes and syncs every buffered entry now.
    /// - throws: ``FileSystemError``; the entries then stay buffered for the next try.
    package func flush() throws {
        try write(appending: [])
    }

    /// Flushes every audit log of this process (the command line calls it before it exits).
    /// - Returns: the errors of the logs that could not be written.
    package static func flushAll() -> [any Error] {
        let logs = registryLock.withLock { Array(registry.values) }
        return logs.compactMap { log in
            do {
                try log.flush()
                return nil
            } catch {
                return error
            }
        }
    }

    /// Writes what is buffered followed by `line` with one `write(2)`, then fsyncs.
    private func write(appending line: [UInt8]) throws {
        writeLock.lock()
        defer { writeLock.unlock() }
        let buffered = bufferLock.withLock {
            defer { pending.removeAll() }
            return pending
        }
        guard !buffered.isEmpty || !line.isEmpty else { return }
        do {
            let fd = PrivateFiles.openNoFollow(path, flags: O_WRONLY | O_APPEND)
            guard fd >= 0 else { throw FileSystemError(path: path, operation: "open audit log", code: errno) }
            defer { close(fd) }
            try PrivateFiles.writeAll(fd: fd, bytes: buffered + line, path: path)
            guard fsync(fd) == 0 else { throw FileSystemError(path: path, operation: "fsync audit log", code: errno) }
            bufferLock.withLock { failure = nil }
        } catch {
            // Keep the buffered entries (a partial write may repeat some lines, never lose one).
            bufferLock.withLock {
                pending = buffered + pending
                failure = error
            }
            throw error
        }
    }
}

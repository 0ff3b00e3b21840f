import Foundation

#if canImport(Glibc)
import Glibc
#endif
import Support

/// The vault's append-only audit log, `audit.log`: one JSON object per line with time, principal,
/// operation, secret, version and outcome. It never holds a key or token value.
///
/// Each entry is one `write(2)` on a descriptor opened with `O_APPEND`, then `fsync`, so entries from
/// several processes never interleave and a crash loses at most the entry being written.

struct AuditLog {
    /// The log file.
    let path: String

    /// One entry.
    struct Entry: Encodable {
        var time: Date
        var principal: String
        var operation: String
        var secret: String?
        var version: Int?
        /// `ok`, `denied` or `error`.
        var outcome: String
    }

    /// Appends one entry.
    func append(_ entry: Entry) throws {
        var line = Array(try VaultFileCodec.encoder.encode(entry))
        line.append(0x0A)
        let fd = PrivateFiles.openNoFollow(path, flags: O_WRONLY | O_APPEND)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open audit log", code: errno) }
        defer { close(fd) }
        try PrivateFiles.writeAll(fd: fd, bytes: line, path: path)
        guard fsync(fd) == 0 else { throw FileSystemError(path: path, operation: "fsync audit log", code: errno) }
    }
}

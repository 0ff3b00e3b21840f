import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Files and folders that hold secrets: created 0600 and 0700, written atomically, checked for
/// permissions that would let other users read them (invariants I3 and I6).
///
/// Every write goes to a temporary file in the same folder, is flushed with `fsync`, renamed over the
/// target, and the folder is flushed too, so a crash leaves either the old or the new content, never
/// a mix. Callers must not write secrets anywhere else.
package enum PrivateFiles {
    /// The mode of every file tokenkeeper creates.
    package static let fileMode: mode_t = 0o600
    /// The mode of every folder tokenkeeper creates.
    package static let directoryMode: mode_t = 0o700

    /// Writes `bytes` to `path` atomically with mode 0600 (or `mode`, for files that hold no secret, such
    /// as reports): temporary file, fsync, rename, fsync of the folder.
    /// - Parameter syncingFolder: false only for a caller that writes several files of one folder and
    ///   then calls ``syncDirectory(_:)`` itself before it reports any of them written (the vault's
    ///   batched changes): until then a crash may bring back a file's old content, never a mix.
    /// - throws: ``FileSystemError`` naming the path and the step that failed.
    package static func writeAtomically(
        _ bytes: [UInt8], to path: String, mode: mode_t = fileMode, syncingFolder: Bool = true
    ) throws {
        let directory = PathText.parent(of: path)
        let name = (path as NSString).lastPathComponent
        let temporary =
            (directory.isEmpty ? "." : directory) + "/.\(name).tmp-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw FileSystemError(path: temporary, operation: "create", code: errno) }
        var closed = false
        defer {
            if !closed { close(fd) }
        }
        do {
            try writeAll(fd: fd, bytes: bytes, path: temporary)
            guard fchmod(fd, mode) == 0 else { throw FileSystemError(path: temporary, operation: "chmod", code: errno) }
            guard fsync(fd) == 0 else { throw FileSystemError(path: temporary, operation: "fsync", code: errno) }
            closed = true
            guard close(fd) == 0 else { throw FileSystemError(path: temporary, operation: "close", code: errno) }
            guard rename(temporary, path) == 0 else {
                throw FileSystemError(path: path, operation: "rename", code: errno)
            }
        } catch {
            unlink(temporary)
            throw error
        }
        if syncingFolder { try syncDirectory(directory.isEmpty ? "." : directory) }
    }

    /// Writes `bytes` to a new file at `path`, mode 0600, and fails if anything (a file, a link) is
    /// there already: for files that must never be overwritten, such as a master key. Written to a
    /// temporary file first (fsync), then linked to its name, which the kernel refuses when the name
    /// exists, so there is no moment at which the check and the write can be split.
    /// - throws: ``FileSystemError`` with `EEXIST` when `path` exists, or naming the step that failed.
    package static func writeNew(_ bytes: [UInt8], to path: String) throws {
        let directory = PathText.parent(of: path)
        let name = (path as NSString).lastPathComponent
        let temporary =
            (directory.isEmpty ? "." : directory) + "/.\(name).new-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard fd >= 0 else { throw FileSystemError(path: temporary, operation: "create", code: errno) }
        defer { unlink(temporary) }
        do {
            defer { close(fd) }
            try writeAll(fd: fd, bytes: bytes, path: temporary)
            guard fsync(fd) == 0 else { throw FileSystemError(path: temporary, operation: "fsync", code: errno) }
        }
        guard link(temporary, path) == 0 else {
            let code = errno
            throw FileSystemError(
                path: path, operation: "create", code: code,
                advice: code == EEXIST ? "Something is there already and is never overwritten; choose a new path." : nil
            )
        }
        try syncDirectory(directory.isEmpty ? "." : directory)
    }

    /// Opens `path` with `flags` (for example `O_RDWR`, or `O_WRONLY | O_APPEND`) without ever following a
    /// symbolic link, creating it exclusively (mode 0600) when it is missing: a link planted in its place
    /// makes the open fail (`ELOOP`) instead of writing the file it points to.
    /// - Returns: the descriptor, or -1 with `errno` set.
    package static func openNoFollow(_ path: String, flags: Int32) -> Int32 {
        for _ in 0..<10 {  // bounded: repeats only while the file appears and vanishes between the two opens
            let existing = open(path, flags | O_NOFOLLOW | O_CLOEXEC)
            if existing >= 0 || errno != ENOENT { return existing }
            let created = open(path, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
            if created >= 0 || errno != EEXIST { return created }
        }
        errno = EAGAIN
        return -1
    }

    /// Writes all of `bytes` to an open descriptor, retrying short writes and `EINTR`.
    package static func writeAll(fd: Int32, bytes: [UInt8], path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { buffer in
                write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "write", code: errno)
            }
            offset += written
        }
    }

    /// Flushes a folder's entries to disk, so that a rename or a new file in it survives a crash.
    package static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open folder", code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw FileSystemError(path: path, operation: "fsync folder", code: errno) }
    }

    /// Reads a whole file that must not be readable by group or others. The mode is judged on the file
    /// actually opened (`fstat` of the descriptor read from), so a file swapped between a check and the
    /// read cannot pass. A symbolic link is followed (mounted secrets are often links) and the file it
    /// reaches is what must be private.
    /// - throws: ``InsecurePermissionsError`` when the file is group- or world-accessible,
    ///   ``FileSystemError`` when it cannot be read.
    package static func readPrivate(_ path: String) throws -> [UInt8] {
        try readFile(path, requiringPrivate: true)
    }

    /// Reads a whole file without checking its permissions (for files that hold no secret).
    package static func readFile(_ path: String) throws -> [UInt8] {
        try readFile(path, requiringPrivate: false)
    }

    /// Reads a whole file, first checking on the open descriptor that it is private when asked. A private
    /// file must be a regular file: it is opened without blocking, so a FIFO planted in its place is
    /// refused instead of hanging the job.
    private static func readFile(_ path: String, requiringPrivate: Bool) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | (requiringPrivate ? O_NONBLOCK : 0))
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        if requiringPrivate {
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw FileSystemError(path: path, operation: "stat", code: errno) }
            guard info.st_mode & S_IFMT == S_IFREG else {
                throw FileSystemError(
                    path: path, operation: "read", code: EINVAL,
                    advice:
                        "A secret must be read from a regular file, not a pipe, device or folder; name the file itself."
                )
            }
            let mode = UInt32(info.st_mode) & 0o777
            if mode & 0o077 != 0 { throw InsecurePermissionsError(path: path, foundMode: mode, requiredMode: 0o600) }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileSystemError(path: path, operation: "read", code: errno)
            }
            if count == 0 { break }
            result.append(contentsOf: chunk[0..<count])
        }
        return result
    }

    /// Opens a file for reading as a stream (an input that may be larger than memory should hold), without
    /// checking its permissions. The handle closes the file when it goes away.
    /// - throws: ``FileSystemError`` when it cannot be opened.
    package static func openForReading(_ path: String) throws -> FileHandle {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open", code: errno) }
        return FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    /// Creates a folder with mode 0700 (and its missing parents with the same mode).
    /// An existing folder is accepted only when it is private.
    package static func createPrivateDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard (info.st_mode & S_IFMT) == S_IFDIR else {
                throw FileSystemError(
                    path: path, operation: "create folder", code: ENOTDIR,
                    advice: "Choose a path that is not a file.")
            }
            try requirePrivate(path, isDirectory: true)
            return
        }
        let parent = PathText.parent(of: path)
        if !parent.isEmpty, parent != path, !FileManager.default.fileExists(atPath: parent) {
            try createPrivateDirectory(parent)
        }
        guard mkdir(path, directoryMode) == 0 || errno == EEXIST else {
            throw FileSystemError(path: path, operation: "create folder", code: errno)
        }
        // mkdir's mode passes through the umask: set 0700 on the folder itself, never through a link
        // someone put in its place.
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw FileSystemError(path: path, operation: "open folder", code: errno) }
        defer { close(fd) }
        guard fchmod(fd, directoryMode) == 0 else { throw FileSystemError(path: path, operation: "chmod", code: errno) }
    }

    /// Refuses a file or folder that group or others may read, write or enter, as ssh refuses such a key.
    /// - throws: ``InsecurePermissionsError`` with the `chmod` command that fixes it.
    package static func requirePrivate(_ path: String, isDirectory: Bool) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileSystemError(path: path, operation: "stat", code: errno) }
        let mode = UInt32(info.st_mode) & 0o777
        if mode & 0o077 != 0 {
            throw InsecurePermissionsError(path: path, foundMode: mode, requiredMode: isDirectory ? 0o700 : 0o600)
        }
    }

    /// Whether a file or folder exists at `path`.
    package static func exists(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0
    }
}

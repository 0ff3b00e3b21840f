import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Checks on the folders and files that hold tokenkeeper's state (the vault, the store, the job lock
/// files), made before anything in them is opened for writing.
///
/// - A folder that holds state or lock files must not be writable by group or others: anyone who
///   can create names in it can plant a symbolic link where tokenkeeper will create or truncate a
///   file, or swap a file under it. A folder given as a symbolic link (a mounted volume linked into
///   place) is judged by its target.
/// - State must belong to the user tokenkeeper runs as. Root running once over a service user's state
///   would leave root-owned files the service can no longer write; tokenkeeper refuses instead, and
///   says whose state it is and how to run as them. A folder owned by root is accepted (as sshd does).
package enum StateOwnership {
    /// Refuses a folder that holds state or lock files when it is not a folder, when group or others
    /// may write it, or when it belongs to another user than the current one or root.
    /// - throws: ``WritableStateFolderError``, ``ForeignOwnerError``, ``FileSystemError``.
    package static func requireSafeFolder(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { throw FileSystemError(path: path, operation: "stat folder", code: errno) }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw FileSystemError(
                path: path, operation: "open folder", code: ENOTDIR, advice: "Give a folder for the state, not a file.")
        }
        if info.st_uid != geteuid(), info.st_uid != 0 { throw ForeignOwnerError(path: path, owner: info.st_uid) }
        let mode = UInt32(info.st_mode) & 0o7777
        if mode & 0o022 != 0 { throw WritableStateFolderError(path: path, foundMode: mode) }
    }

    /// Refuses a file or folder of the state that belongs to another user than the one running.
    /// A missing path passes (the caller decides what a missing file means).
    /// - throws: ``ForeignOwnerError``.
    package static func requireOwned(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }
        if info.st_uid != geteuid() { throw ForeignOwnerError(path: path, owner: info.st_uid) }
    }

    /// Refuses an open file that is not a plain file of the current user with a single name: a lock
    /// file reached through a hard link to another file, or a device, is never written.
    /// - throws: ``ForeignOwnerError``, ``FileSystemError``.
    package static func requireOwnedPlainFile(_ descriptor: Int32, path: String) throws {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileSystemError(path: path, operation: "stat", code: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG, info.st_nlink == 1 else {
            throw FileSystemError(
                path: path, operation: "open", code: EPERM,
                advice:
                    "It is not a plain file with one name (a device, or a hard link to another file): remove it, and check who can write its folder."
            )
        }
        if info.st_uid != geteuid() { throw ForeignOwnerError(path: path, owner: info.st_uid) }
    }

    /// Whether the folder at `path` cannot be written: on a file system mounted read-only, or closed to
    /// this user by its permissions.
    package static func isReadOnlyFolder(_ path: String) -> Bool {
        var info = statvfs()
        if statvfs(path, &info) == 0, info.f_flag & UInt(ST_RDONLY) != 0 { return true }
        return access(path, W_OK) != 0 && errno != ENOENT
    }

    /// The user name of `uid`, or nil when the system has none.
    package static func userName(_ uid: uid_t) -> String? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name
        else { return nil }
        return String(cString: name)
    }
}

/// State that belongs to another user than the one tokenkeeper runs as.
public struct ForeignOwnerError: ActionableError {
    /// The file or folder.
    public let path: String
    /// Its owner.
    public let owner: uid_t

    package init(path: String, owner: uid_t) {
        self.path = path
        self.owner = owner
    }

    public var item: String { path }
    public var problem: String {
        let runner = geteuid()
        return
            "belongs to \(Self.describe(owner)), but tokenkeeper runs as \(Self.describe(runner)); files it wrote would belong to "
            + "\(StateOwnership.userName(runner) ?? "uid \(runner)") and lock \(StateOwnership.userName(owner) ?? "uid \(owner)") out"
    }
    public var remedy: String {
        let name = StateOwnership.userName(owner) ?? "#\(owner)"
        return "Run tokenkeeper as the state's owner, for example `sudo -u \(name) tokenkeeper ...`; "
            + "if the state is meant to change hands, `chown -R` all of it first."
    }
    public var exitStatus: ExitStatus { .environment }

    /// `user svc (uid 1001)`, or `uid 1001` for a uid without a name.
    static func describe(_ uid: uid_t) -> String {
        StateOwnership.userName(uid).map { "user \($0) (uid \(uid))" } ?? "uid \(uid)"
    }
}

/// A folder holding state or lock files that group or others may write.
public struct WritableStateFolderError: ActionableError {
    /// The folder (as given; a symbolic link is judged by its target).
    public let path: String
    /// Its mode, for example `0o770`.
    public let foundMode: UInt32

    public var item: String { path }
    public var problem: String {
        "permissions 0\(String(foundMode & 0o777, radix: 8)) let group or others create and replace files in this folder, "
            + "which holds tokenkeeper's state (a planted link could make tokenkeeper overwrite another file)"
    }
    public var remedy: String { "Run `chmod go-w \(path)` (0700 is best) and try again." }
    public var exitStatus: ExitStatus { .environment }
}

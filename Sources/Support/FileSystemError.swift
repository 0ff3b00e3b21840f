/// A failure of the file system underneath the vault, the store or the reports.
public struct FileSystemError: ActionableError {
    /// The path that failed.
    public let path: String
    /// The operation that failed, for example `open`, `fsync`, `rename`.
    public let operation: String
    /// The `errno` value reported by the system call.
    public let code: Int32
    /// Extra advice when the general remedy is not enough.
    public let advice: String?

    /// Creates an error for `operation` on `path` that failed with `errno` `code`.
    public init(path: String, operation: String, code: Int32, advice: String? = nil) {
        self.path = path
        self.operation = operation
        self.code = code
        self.advice = advice
    }

    public var item: String { path }
    public var problem: String { "\(operation) failed: \(SystemErrorText.describe(code))" }
    public var remedy: String {
        advice ?? "Check that the path exists, that this user owns it, and that the disk is not full."
    }
    public var exitStatus: ExitStatus { .environment }
}

/// A file or folder whose permissions let other users read secrets.
public struct InsecurePermissionsError: ActionableError {
    /// The file or folder that is too open.
    public let path: String
    /// The mode found on disk, for example `0o644`.
    public let foundMode: UInt32
    /// The mode tokenkeeper requires: `0o600` for files, `0o700` for folders.
    public let requiredMode: UInt32

    public var item: String { path }
    public var problem: String {
        "permissions \(Self.octal(foundMode)) let group or others read it, like ssh, tokenkeeper refuses such a path"
    }
    public var remedy: String { "Run `chmod \(Self.octal(requiredMode).dropFirst()) \(path)` and try again." }
    public var exitStatus: ExitStatus { .environment }

    private static func octal(_ mode: UInt32) -> String { "0" + String(mode & 0o777, radix: 8) }
}

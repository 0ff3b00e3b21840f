import Support

/// A spec path that names no spec file: it does not exist, or it is a folder. A usage mistake (exit
/// code 2, as for an invalid spec), not an environment failure.

public struct SpecFileError: ActionableError {
    /// The path as the person gave it.
    public let path: String
    /// Whether the path is a folder (else it does not exist).
    public let isFolder: Bool

    public var item: String { path }
    public var problem: String { isFolder ? "is a folder, not a job spec file" : "does not exist" }
    public var remedy: String {
        isFolder
            ? "Give the spec file itself, for example \(path.hasSuffix("/") ? path : path + "/")nightly.yml."
            : "Check the path (a relative path starts from the current folder)."
    }
    public var exitStatus: ExitStatus { .usage }
}

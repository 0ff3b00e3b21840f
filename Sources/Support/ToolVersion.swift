/// The version of tokenkeeper this build is: printed by `tokenkeeper --version` and recorded in
/// every report, so a report names the release that wrote it.
public enum ToolVersion {
    /// The release, `MAJOR.MINOR.PATCH`.
    public static let current = "0.1.0"
}

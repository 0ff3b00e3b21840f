/// How a tokenkeeper process ends, as DESIGN.md fixes it for every command.
///
/// CI systems branch on these numbers, so they never change meaning:
/// `0` done or nothing to do, `1` some items failed (the report names them),
/// `2` bad usage or an invalid spec, `3` the environment is wrong (lock held,
/// vault or store unreadable, wrong master key).
public enum ExitStatus: Int32, Sendable, Comparable {
    /// Everything was done, or there was nothing to do.
    case success = 0
    /// Some items failed; the report names each of them.
    case itemsFailed = 1
    /// The command line or the job spec is wrong.
    case usage = 2
    /// The environment is wrong: lock held, vault or store unreadable, wrong master key.
    case environment = 3

    public static func < (lhs: ExitStatus, rhs: ExitStatus) -> Bool { lhs.rawValue < rhs.rawValue }
}

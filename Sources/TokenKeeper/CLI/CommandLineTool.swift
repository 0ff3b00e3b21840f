#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The command-line front end. Placeholder until the command tree lands.
public enum CommandLineTool {
    /// Runs one command line and exits the process with its ``ExitStatus``.
    public static func main(arguments: [String]) async {
        exit(ExitStatus.success.rawValue)
    }
}

import Support

/// A command line that tokenkeeper cannot run: an unknown command or option, a missing value.
///
/// Exits with status 2 (DESIGN.md) and tells the person which `--help` to read.

package struct UsageError: ActionableError {
    /// The command path the error belongs to, for example `["token", "put"]`.
    package let command: [String]
    package let problem: String
    /// What to write instead; `--help` advice is appended.
    package let advice: String

    /// Creates a usage error for `command`.
    package init(command: [String], problem: String, remedy: String) {
        self.command = command
        self.problem = problem
        self.advice = remedy
    }

    package var item: String { (["tokenkeeper"] + command).joined(separator: " ") }
    package var remedy: String {
        let help = "Run `\(item) --help` for usage."
        return advice.isEmpty ? help : "\(advice) \(help)"
    }
    package var exitStatus: ExitStatus { .usage }
}

import Support

/// One command of the `tokenkeeper` command tree: its help text, the options it takes, and what it runs.
///
/// A command either has subcommands (a group such as `vault`) or a `run` body (a leaf such as
/// `vault init`). The parser accepts only the options a command declares plus the global ones, so a
/// typo is answered with "did you mean" instead of being ignored.

package struct Command: Sendable {
    /// The word that selects this command, for example `init`.
    package let name: String
    /// One line shown in the parent's command list.
    package let abstract: String
    /// Usage lines after the command path, for example `PATH [--master-key-out FILE]`.
    package let usage: String
    /// Paragraphs shown by `--help` after the usage: what the command does, what it needs, examples.
    package let discussion: String
    /// Options this command accepts, in the order `--help` lists them.
    package let options: [OptionSpec]
    /// How many positional arguments the command accepts.
    package let positionals: ClosedRange<Int>
    /// Subcommands, for a group.
    package let subcommands: [Command]
    /// The body of a leaf command; returns the exit status.
    package let run: (@Sendable (Invocation) async throws -> ExitStatus)?

    /// Creates a leaf command.
    package init(
        _ name: String, abstract: String, usage: String = "", discussion: String = "",
        options: [OptionSpec] = [], positionals: ClosedRange<Int> = 0...0,
        run: @escaping @Sendable (Invocation) async throws -> ExitStatus
    ) {
        self.name = name
        self.abstract = abstract
        self.usage = usage
        self.discussion = discussion
        self.options = options
        self.positionals = positionals
        self.subcommands = []
        self.run = run
    }

    /// Creates a group of subcommands.
    package init(_ name: String, abstract: String, discussion: String = "", subcommands: [Command]) {
        self.name = name
        self.abstract = abstract
        self.usage = "COMMAND [OPTIONS]"
        self.discussion = discussion
        self.options = []
        self.positionals = 0...0
        self.subcommands = subcommands
        self.run = nil
    }
}

/// An option a command accepts: `--name VALUE`, `--name=VALUE`, or a flag `--name`.
package struct OptionSpec: Sendable, Hashable {
    /// The long name without the dashes, for example `master-key-out`.
    package let name: String
    /// The placeholder for the value in help text, or nil for a flag that takes no value.
    package let valueName: String?
    /// One line of help.
    package let help: String
    /// Whether the option may be given more than once.
    package let repeatable: Bool

    /// An option that takes a value.
    package static func value(_ name: String, _ valueName: String, _ help: String, repeatable: Bool = false) -> Self {
        OptionSpec(name: name, valueName: valueName, help: help, repeatable: repeatable)
    }

    /// A flag that takes no value.
    package static func flag(_ name: String, _ help: String) -> Self {
        OptionSpec(name: name, valueName: nil, help: help, repeatable: false)
    }
}

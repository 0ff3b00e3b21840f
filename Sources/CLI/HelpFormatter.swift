import Foundation

/// The `--help` text of a command: usage, what it does, its subcommands and options.
package enum HelpFormatter {
    /// Renders help for `command`, reached through `path` (for example `["vault", "init"]`).
    package static func help(for command: Command, path: [String]) -> String {
        let fullName = (["tokenkeeper"] + path).joined(separator: " ")
        var lines: [String] = []
        lines.append("OVERVIEW: \(command.abstract)")
        lines.append("")
        lines.append("USAGE: \(fullName)\(command.usage.isEmpty ? "" : " " + command.usage)")
        if !command.discussion.isEmpty {
            lines.append("")
            lines.append(command.discussion)
        }
        if !command.subcommands.isEmpty {
            lines.append("")
            lines.append("COMMANDS:")
            let width = (command.subcommands.map(\.name.count).max() ?? 0) + 2
            for sub in command.subcommands {
                lines.append("  " + sub.name.padding(toLength: width, withPad: " ", startingAt: 0) + sub.abstract)
            }
            lines.append("")
            lines.append("Run `\(fullName) COMMAND --help` for a command's options.")
        }
        if !command.options.isEmpty {
            lines.append("")
            lines.append("OPTIONS:")
            lines.append(contentsOf: optionLines(command.options))
        }
        lines.append("")
        lines.append("GLOBAL OPTIONS:")
        lines.append(contentsOf: optionLines(GlobalOptions.specs))
        if path.isEmpty {
            lines.append("")
            lines.append("EXIT CODES: 0 done or nothing to do; 1 some items failed (the report names them);")
            lines.append(
                "            2 bad usage or invalid spec; 3 environment (lock held, vault or store unreadable, wrong master key)."
            )
        }
        return lines.joined(separator: "\n")
    }

    private static func optionLines(_ options: [OptionSpec]) -> [String] {
        let labels = options.map { "--\($0.name)" + ($0.valueName.map { " \($0)" } ?? "") }
        let width = min((labels.map(\.count).max() ?? 0) + 2, 30)
        return zip(labels, options).map { label, option in
            let padded =
                label.count < width ? label.padding(toLength: width, withPad: " ", startingAt: 0) : label + "  "
            return "  " + padded + option.help
        }
    }
}

import Foundation

/// Turns `argv` into the chosen ``Command`` and an ``Invocation``, or a ``UsageError``.
///
/// Rules: subcommand words come first; options may follow in any order as `--name VALUE`,
/// `--name=VALUE` or `--flag`; global options are accepted at every level; `--` ends the options;
/// `-h` is `--help`. An unknown option or command is refused with the closest known spelling.
package enum CommandLineParser {
    /// What the parser found: the command to run (or whose help to show) and its invocation.
    package struct Parsed: Sendable {
        /// The selected command (a group when no subcommand was named).
        package let command: Command
        /// Options and arguments for it.
        package let invocation: Invocation
        /// Whether `--help` was asked for.
        package var wantsHelp: Bool { invocation.flag("help") }
    }

    /// Parses `arguments` (without the program name) against the tree under `root`.
    /// - throws: ``UsageError`` for unknown commands or options, missing values, wrong argument counts.
    package static func parse(
        _ arguments: [String], root: Command, environment: [String: String], console: Console
    ) throws -> Parsed {
        var command = root
        var path: [String] = []
        var index = 0
        // Subcommand words.
        while index < arguments.count, !command.subcommands.isEmpty {
            let word = arguments[index]
            if word.hasPrefix("-") { break }
            if word == "help" {  // `tokenkeeper help vault init` means `tokenkeeper vault init --help`
                let rest = try parse(Array(arguments[(index + 1)...]) + ["--help"], root: command,
                                     environment: environment, console: console)
                return Parsed(command: rest.command, invocation: rest.invocation.prefixed(by: path))
            }
            guard let next = command.subcommands.first(where: { $0.name == word }) else {
                let names = command.subcommands.map(\.name)
                throw UsageError(
                    command: path, problem: "unknown command '\(word)'",
                    remedy: Suggestion.closest(to: word, among: names).map { "Did you mean '\($0)'?" }
                        ?? "Commands: \(names.joined(separator: ", ")).")
            }
            command = next
            path.append(word)
            index += 1
        }
        // Options and positionals.
        let known = Dictionary((command.options + GlobalOptions.specs).map { ($0.name, $0) }) { first, _ in first }
        var values: [String: [String]] = [:]
        var flags: Set<String> = []
        var positionals: [String] = []
        var optionsEnded = false
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                positionals.append(word)
                continue
            }
            if word == "--" { optionsEnded = true; continue }
            if word == "-h" { flags.insert("help"); continue }
            guard word.hasPrefix("--") else {
                throw UsageError(command: path, problem: "unknown option '\(word)'",
                                 remedy: "Options are spelled with two dashes, for example --help.")
            }
            var name = String(word.dropFirst(2))
            var inlineValue: String?
            if let equals = name.firstIndex(of: "=") {
                inlineValue = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            guard let spec = known[name] else {
                throw UsageError(
                    command: path, problem: "unknown option '--\(name)'",
                    remedy: SecretOptionAdvice.forOption(name)
                        ?? Suggestion.closest(to: name, among: known.keys).map { "Did you mean '--\($0)'?" } ?? "")
            }
            if spec.valueName == nil {
                guard inlineValue == nil else {
                    throw UsageError(command: path, problem: "--\(name) takes no value", remedy: "Write --\(name) alone.")
                }
                flags.insert(name)
                continue
            }
            let value: String
            if let inlineValue {
                value = inlineValue
            } else {
                guard index < arguments.count else {
                    throw UsageError(command: path, problem: "--\(name) needs a value",
                                     remedy: "Write --\(name) \(spec.valueName ?? "VALUE").")
                }
                value = arguments[index]
                index += 1
            }
            if values[name] != nil, !spec.repeatable {
                throw UsageError(command: path, problem: "--\(name) is given more than once", remedy: "Give it once.")
            }
            values[name, default: []].append(value)
        }
        let invocation = Invocation(
            path: path, values: values, flags: flags, positionals: positionals,
            globals: GlobalOptions(values: values, environment: environment), console: console)
        if !flags.contains("help"), command.run != nil, !command.positionals.contains(positionals.count) {
            let range = command.positionals
            let expected = range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
            throw UsageError(command: path,
                             problem: "takes \(expected) argument(s), got \(positionals.count)",
                             remedy: command.usage.isEmpty ? "" : "Usage: \((["tokenkeeper"] + path).joined(separator: " ")) \(command.usage).")
        }
        return Parsed(command: command, invocation: invocation)
    }
}

extension Invocation {
    /// The same invocation with `prefix` put in front of its command path.
    fileprivate func prefixed(by prefix: [String]) -> Invocation {
        Invocation(path: prefix + path, values: values, flags: flags, positionals: positionals, globals: globals,
                   console: console)
    }
}

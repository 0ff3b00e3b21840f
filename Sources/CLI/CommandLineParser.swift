import Foundation
import Support

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
        var cursor = Cursor(arguments: arguments)
        let (command, path, helpRest) = try commandPath(&cursor, root: root)
        if let helpRest {  // `tokenkeeper help vault init` means `tokenkeeper vault init --help`
            let rest = try parse(helpRest + ["--help"], root: command, environment: environment, console: console)
            return Parsed(command: rest.command, invocation: rest.invocation.prefixed(by: path))
        }
        let options = try self.options(&cursor, of: command, path: path)
        let invocation = Invocation(
            path: path, values: options.values, flags: options.flags, positionals: options.positionals,
            globals: GlobalOptions(values: options.values, environment: environment), console: console)
        if !options.flags.contains("help") {
            try checkPositionals(options.positionals.count, of: command, path: path)
            // A connection string in place of a reference is refused before anything else, and never repeated.
            _ = try invocation.globals.vault
            _ = try invocation.globals.store
        }
        return Parsed(command: command, invocation: invocation)
    }

    /// The words still to read.
    private struct Cursor {
        let arguments: [String]
        var index = 0
        var next: String? { index < arguments.count ? arguments[index] : nil }
        mutating func take() -> String? {
            defer { index += 1 }
            return next
        }
    }

    /// What the options part of a command line gave.
    private struct Options {
        var values: [String: [String]] = [:]
        var flags: Set<String> = []
        var positionals: [String] = []
    }

    /// Reads the subcommand words: the command they name and its path, or, for `help WORDS`, the
    /// group `help` stands in and the words after it.
    private static func commandPath(_ cursor: inout Cursor, root: Command) throws -> (Command, [String], [String]?) {
        var command = root
        var path: [String] = []
        while let word = cursor.next, !command.subcommands.isEmpty, !word.hasPrefix("-") {
            cursor.index += 1
            if word == "help" { return (command, path, Array(cursor.arguments[cursor.index...])) }
            guard let next = command.subcommands.first(where: { $0.name == word }) else {
                let names = command.subcommands.map(\.name)
                throw UsageError(
                    command: path, problem: "unknown command '\(word)'",
                    remedy: Suggestion.closest(to: word, among: names).map { "Did you mean '\($0)'?" }
                        ?? "Commands: \(names.joined(separator: ", ")).")
            }
            command = next
            path.append(word)
        }
        return (command, path, nil)
    }

    /// Reads options and positional arguments up to the end.
    private static func options(_ cursor: inout Cursor, of command: Command, path: [String]) throws -> Options {
        let known = Dictionary((command.options + GlobalOptions.specs).map { ($0.name, $0) }) { first, _ in first }
        var options = Options()
        var optionsEnded = false
        while let word = cursor.take() {
            if optionsEnded || !word.hasPrefix("-") || word == "-" {
                options.positionals.append(word)
            } else if word == "--" {
                optionsEnded = true
            } else if word == "-h" {
                options.flags.insert("help")
            } else {
                try option(word, &cursor, known: known, path: path, into: &options)
            }
        }
        return options
    }

    /// Reads one `--name`, `--name VALUE` or `--name=VALUE`.
    private static func option(
        _ word: String, _ cursor: inout Cursor, known: [String: OptionSpec], path: [String],
        into options: inout Options
    ) throws {
        guard word.hasPrefix("--") else {
            throw UsageError(
                command: path, problem: "unknown option '\(word)'",
                remedy: "Options are spelled with two dashes, for example --help.")
        }
        var name = String(word.dropFirst(2))
        var inlineValue: String?
        if let equals = name.firstIndex(of: "=") {
            inlineValue = String(name[name.index(after: equals)...])
            name = String(name[..<equals])
        }
        guard let spec = known[name] else {
            // Never echo what followed `=`: it may be a secret given in the wrong place.
            throw UsageError(
                command: path, problem: "unknown option '--\(name)'",
                remedy: SecretOptionAdvice.forOption(name)
                    ?? Suggestion.closest(to: name, among: known.keys).map { "Did you mean '--\($0)'?" } ?? "")
        }
        guard let valueName = spec.valueName else {
            guard inlineValue == nil else {
                throw UsageError(command: path, problem: "--\(name) takes no value", remedy: "Write --\(name) alone.")
            }
            options.flags.insert(name)
            return
        }
        let value = try inlineValue ?? separateValue(of: name, valueName: valueName, &cursor, path: path)
        if options.values[name] != nil, !spec.repeatable {
            throw UsageError(command: path, problem: "--\(name) is given more than once", remedy: "Give it once.")
        }
        options.values[name, default: []].append(value)
    }

    /// The word after `--name`, which must be there and must not be another option (`--stage --dry-run`
    /// would otherwise name a stage "--dry-run"). A value that starts with two dashes is written `--name=VALUE`.
    private static func separateValue(of name: String, valueName: String, _ cursor: inout Cursor, path: [String]) throws
        -> String
    {
        guard let value = cursor.next else {
            throw UsageError(command: path, problem: "--\(name) needs a value", remedy: "Write --\(name) \(valueName).")
        }
        guard !value.hasPrefix("--") else {
            let option = value.split(separator: "=", maxSplits: 1).first.map(String.init) ?? value
            throw UsageError(
                command: path, problem: "--\(name) needs a value, but the option \(option) follows it",
                remedy: "Write --\(name) \(valueName) (or --\(name)=VALUE for a value that starts with --).")
        }
        cursor.index += 1
        return value
    }

    /// Refuses a wrong number of positional arguments for a command that runs.
    private static func checkPositionals(_ count: Int, of command: Command, path: [String]) throws {
        guard command.run != nil, !command.positionals.contains(count) else { return }
        let range = command.positionals
        let expected =
            range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
        throw UsageError(
            command: path,
            problem: "takes \(expected) argument(s), got \(count)",
            remedy: command.usage.isEmpty
                ? "" : "Usage: \((["tokenkeeper"] + path).joined(separator: " ")) \(command.usage).")
    }
}

extension Invocation {
    /// The same invocation with `prefix` put in front of its command path.
    fileprivate func prefixed(by prefix: [String]) -> Invocation {
        Invocation(
            path: prefix + path, values: values, flags: flags, positionals: positionals, globals: globals,
            console: console)
    }
}

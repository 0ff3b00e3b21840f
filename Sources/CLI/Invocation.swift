import Support

/// One parsed command line: the command that was chosen, its options and positional arguments,
/// the global options, and where to print.

package struct Invocation: Sendable {
    /// The command path, for example `["vault", "init"]`.
    package let path: [String]
    /// Values of options that take one, by long name; repeatable options keep every value in order.
    package let values: [String: [String]]
    /// Flags that were given.
    package let flags: Set<String>
    /// Positional arguments.
    package let positionals: [String]
    /// The global options, already merged with the environment and defaults.
    package let globals: GlobalOptions
    /// Where the command prints.
    package let console: Console

    /// The last value of an option, or nil when it was not given.
    package func value(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable option.
    package func allValues(_ name: String) -> [String] { values[name] ?? [] }

    /// Whether a flag was given.
    package func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The value of an option the command cannot do without.
    /// - throws: ``UsageError`` naming the option when it is missing or empty.
    package func required(_ name: String) throws -> String {
        guard let value = value(name), !value.isEmpty else {
            throw UsageError(command: path, problem: "--\(name) is required", remedy: "Add --\(name) and a value.")
        }
        return value
    }

    /// An integer option the command cannot do without.
    /// - throws: ``UsageError`` when it is missing, or not a whole number in `range`.
    package func requiredInteger(_ name: String, in range: ClosedRange<Int>, example: Int) throws -> Int {
        guard value(name) != nil else {
            throw UsageError(
                command: path, problem: "--\(name) is required",
                remedy: "Add --\(name) and a value, for example --\(name) \(example).")
        }
        return try integer(name, default: example, in: range)
    }

    /// An integer option, or `defaultValue` when it was not given.
    /// - throws: ``UsageError`` when the value is not a whole number in `range`.
    package func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = value(name) else { return defaultValue }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError(
                command: path,
                problem: "--\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)",
                remedy: "Write for example --\(name) \(defaultValue).")
        }
        return number
    }

    /// A value that must be one of `choices`, or `defaultValue` when the option was not given.
    package func choice<Choice: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: Choice) throws
        -> Choice
    where Choice.RawValue == String {
        let text = try choice(name, Choice.allCases.map(\.rawValue), default: defaultValue.rawValue)
        return Choice(rawValue: text) ?? defaultValue
    }

    /// One of `choices`, or `defaultValue` when the option was not given.
    /// - throws: ``UsageError`` naming the choices, with the closest one.
    package func choice(_ name: String, _ choices: [String], default defaultValue: String) throws -> String {
        guard let text = value(name) else { return defaultValue }
        guard choices.contains(text) else {
            throw UsageError(
                command: path, problem: "--\(name) must be one of \(choices.joined(separator: ", "))",
                remedy: Suggestion.closest(to: text, among: choices).map { "Did you mean --\(name) \($0)?" } ?? "")
        }
        return text
    }
}

import Support

/// The rule for names a spec gives that become file names, class names and command-line words: the
/// job's name (`JOB.xml`, `JOB.md`, `JOB.json` under `run --report-dir`, `tokenkeeper.JOB.STAGE`) and
/// each stage's name (`run --stage NAME`, a JUnit suite). A name is never a path: no `/`, no `..`, no
/// NUL that would cut a file name short, no escape sequence that would draw on a terminal.

enum SpecName {
    /// The rule, as diagnostics state it.
    static let rule = "1-100 bytes of letters, digits, '.', '_' or '-', starting with a letter or a digit"

    /// Whether `name` follows the rule.
    static func isValid(_ name: String) -> Bool {
        guard (1...100).contains(name.utf8.count), let first = name.first, first.isLetter || first.isNumber else {
            return false
        }
        return name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" || $0 == "-" }
            && !name.unicodeScalars.contains(where: DisplayText.isUnsafe)
    }
}

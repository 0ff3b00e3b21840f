import Support

/// One problem in a spec file, at a line and column, with what to write instead.
///
/// Prints GCC-style, `job.yml:12:5: error: <problem>; <fix>`, which editors and CI logs turn into links.

public struct SpecDiagnostic: Sendable, Equatable, CustomStringConvertible {
    /// The file as the person named it.
    public var file: String
    /// Where the problem is.
    public var mark: SourceMark
    /// What is wrong.
    public var message: String
    /// What to write instead.
    public var fix: String

    /// Creates a diagnostic.
    public init(file: String, mark: SourceMark, message: String, fix: String) {
        self.file = file
        self.mark = mark
        self.message = message
        self.fix = fix
    }

    public var description: String {
        "\(file):\(mark.line):\(mark.column): error: \(message)\(fix.isEmpty ? "" : "; \(fix)")"
    }
}

/// A spec that cannot be used: every problem found, sorted by position. Exit status 2.
public struct SpecError: ActionableError {
    /// The problems, in file order.
    public var diagnostics: [SpecDiagnostic]

    /// Creates an error from one or more diagnostics.
    public init(_ diagnostics: [SpecDiagnostic]) {
        self.diagnostics = diagnostics.sorted { ($0.file, $0.mark) < ($1.file, $1.mark) }
    }

    public var item: String { diagnostics.first?.file ?? "spec" }
    public var problem: String { "\(diagnostics.count) error\(diagnostics.count == 1 ? "" : "s")" }
    public var remedy: String { "Fix the spec and run `tokenkeeper validate` again." }
    public var exitStatus: ExitStatus { .usage }
    /// Every diagnostic on its own line, as the command line prints them.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}

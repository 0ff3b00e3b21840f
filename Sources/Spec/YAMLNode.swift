/// A position in a spec file, 1-based, as editors and GCC-style diagnostics count.
public struct SourceMark: Sendable, Equatable, Comparable, CustomStringConvertible {
    /// The line, from 1.
    public var line: Int
    /// The column, from 1, counted in characters.
    public var column: Int

    /// Creates a mark.
    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "\(line):\(column)" }
    public static func < (lhs: SourceMark, rhs: SourceMark) -> Bool { (lhs.line, lhs.column) < (rhs.line, rhs.column) }
}

/// A node of a YAML-lite document. The parser makes only strings; the job spec schema types them.
public indirect enum YAMLNode: Sendable, Equatable {
    /// A scalar: its text after quoting and escapes are resolved.
    case scalar(YAMLScalar)
    /// A block mapping, in document order.
    case mapping(YAMLMapping)
    /// A block sequence or a one-line flow sequence.
    case sequence(YAMLSequence)

    /// Where the node starts.
    public var mark: SourceMark {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    /// What kind of node this is, for error messages: "a mapping", "a list", "a value".
    public var kindDescription: String {
        switch self {
        case .scalar: "a single value"
        case .mapping: "a mapping (key: value lines)"
        case .sequence: "a list"
        }
    }
}

/// A scalar with its text, quoting style and position.
public struct YAMLScalar: Sendable, Equatable {
    /// How the scalar was written.
    public enum Style: Sendable, Equatable {
        case plain, singleQuoted, doubleQuoted
    }
    /// The text, with quotes removed and escapes resolved; "" for an empty value.
    public var text: String
    /// How it was written.
    public var style: Style
    /// Where it starts.
    public var mark: SourceMark

    /// Whether the value was left empty (`key:` with nothing after it).
    public var isEmpty: Bool { style == .plain && text.isEmpty }
}

/// A block mapping: keys are scalars, unique, kept in document order.
public struct YAMLMapping: Sendable, Equatable {
    /// One `key: value` entry.
    public struct Entry: Sendable, Equatable {
        public var key: YAMLScalar
        public var value: YAMLNode
    }
    /// The entries in document order.
    public var entries: [Entry]
    /// Where the mapping starts.
    public var mark: SourceMark

    /// The value for `key`, if present.
    public subscript(key: String) -> YAMLNode? { entries.first { $0.key.text == key }?.value }
}

/// A sequence of nodes.
public struct YAMLSequence: Sendable, Equatable {
    /// The items in order.
    public var items: [YAMLNode]
    /// Where the sequence starts.
    public var mark: SourceMark
}

import Foundation
import Support

/// The YAML-lite parser: a strict subset of YAML 1.2 that means the same to every YAML parser.
///
/// Accepted: block mappings; block sequences (also `- key: value` items); one-line flow sequences of
/// scalars `[a, "b"]`; plain, single- and double-quoted scalars; `#` comments; a leading `---`.
/// Refused, each at its line and column with what to write instead: tabs, anchors, aliases, tags,
/// several documents, directives, block scalars, flow mappings, nested flow sequences, scalars spread
/// over lines, duplicate keys, bad indentation, complex keys. It never crashes or hangs: nesting is
/// capped at ``maximumDepth`` and input at ``maximumBytes``, and every loop advances through the lines.

public struct YAMLLiteParser {
    /// The deepest nesting accepted.
    public static let maximumDepth = 64
    /// The largest document accepted.
    public static let maximumBytes = 1 << 20

    /// One line of content: where it is and its characters after the indentation.
    struct Line {
        var number: Int
        var indent: Int
        var text: [Character]
        var mark: SourceMark { SourceMark(line: number, column: indent + 1) }
    }

    private let file: String
    private var lines: [Line] = []
    private var index = 0

    /// Parses `text`, naming `file` in diagnostics. Returns nil for a document with no content. A
    /// leading byte order mark (Windows editors write one) is not content, as YAML 1.2 says.
    /// - throws: ``SpecError`` with the first problem (the parser stops at the first syntax error).
    public static func parse(_ text: String, file: String) throws -> YAMLNode? {
        var parser = YAMLLiteParser(file: file)
        return try parser.parseDocument(ByteOrderMark.dropped(from: text))
    }

    private init(file: String) { self.file = file }

    private func fail(_ mark: SourceMark, _ message: String, _ fix: String) -> SpecError {
        SpecError([SpecDiagnostic(file: file, mark: mark, message: message, fix: fix)])
    }

    private func fail(_ line: Line, column: Int, _ message: String, _ fix: String) -> SpecError {
        fail(SourceMark(line: line.number, column: line.indent + column + 1), message, fix)
    }

    // MARK: - Lines

    private mutating func parseDocument(_ text: String) throws -> YAMLNode? {
        guard text.utf8.count <= Self.maximumBytes else {
            throw fail(
                SourceMark(line: 1, column: 1), "the document is larger than 1 MiB", "split it or remove unused parts")
        }
        var sawContent = false
        var sawStart = false
        // "\r\n" is one Character in Swift, so CRLF line ends are made LF before splitting.
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        for (offset, raw) in normalized.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let characters = Array(raw)
            let number = offset + 1
            if let carriageReturn = characters.firstIndex(of: "\r") {
                throw fail(
                    SourceMark(line: number, column: carriageReturn + 1), "a carriage return without a line feed",
                    "save the file with LF or CRLF line ends")
            }
            var indent = 0
            while indent < characters.count, characters[indent] == " " { indent += 1 }
            if indent < characters.count, characters[indent] == "\t" {
                throw fail(
                    SourceMark(line: number, column: indent + 1), "a tab in the indentation", "indent with spaces only")
            }
            let content = Array(characters[indent...])
            if content.isEmpty || content.first == "#" { continue }
            if indent == 0, Self.isMarker(content, "---") {
                guard !sawContent, !sawStart else {
                    throw fail(
                        SourceMark(line: number, column: 1), "a second document ('---')",
                        "keep one document per spec file")
                }
                sawStart = true
                if content.count > 3, !Self.isComment(Array(content[3...])) {
                    throw fail(
                        SourceMark(line: number, column: 5), "content after '---'", "start the content on the next line"
                    )
                }
                continue
            }
            if indent == 0, Self.isMarker(content, "...") {
                throw fail(
                    SourceMark(line: number, column: 1), "a document end marker ('...')",
                    "remove it; a spec is one document")
            }
            if indent == 0, content.first == "%" {
                throw fail(
                    SourceMark(line: number, column: 1), "a YAML directive", "remove it; YAML-lite has no directives")
            }
            sawContent = true
            lines.append(Line(number: number, indent: indent, text: content))
        }
        guard let first = lines.first else { return nil }
        let node = try parseBlock(indent: first.indent, depth: 0)
        if index < lines.count {
            let line = lines[index]
            throw fail(
                line.mark, "unexpected indentation", "align this line with the keys of the mapping it belongs to")
        }
        return node
    }

    private static func isMarker(_ content: [Character], _ marker: String) -> Bool {
        let chars = Array(marker)
        return content.count >= 3 && Array(content[0..<3]) == chars && (content.count == 3 || content[3] == " ")
    }

    private static func isComment(_ rest: [Character]) -> Bool {
        let trimmed = rest.drop { $0 == " " }
        return trimmed.isEmpty || trimmed.first == "#"
    }

    // MARK: - Blocks

    private mutating func parseBlock(indent: Int, depth: Int) throws -> YAMLNode {
        let line = lines[index]
        guard depth < Self.maximumDepth else {
            throw fail(line.mark, "nesting deeper than \(Self.maximumDepth) levels", "flatten the document")
        }
        if Self.isSequenceItem(line.text) { return try parseSequence(indent: indent, depth: depth) }
        if try keyEnd(in: line) != nil { return try parseMapping(indent: indent, depth: depth) }
        let scalar = try parseInlineValue(line, from: 0)
        index += 1
        try refuseContinuation(after: line, indent: indent)
        return scalar
    }

    private static func isSequenceItem(_ text: [Character]) -> Bool {
        text.first == "-" && (text.count == 1 || text[1] == " ")
    }

    private mutating func parseMapping(indent: Int, depth: Int) throws -> YAMLNode {
        let start = lines[index]
        var entries: [YAMLMapping.Entry] = []
        var seen: [String: SourceMark] = [:]
        while index < lines.count {
            let line = lines[index]
            if line.indent < indent { break }
            guard line.indent == indent else {
                throw fail(
                    line.mark, "unexpected indentation",
                    "indent a nested value under a key that ends with ':', or align this line with its siblings")
            }
            if Self.isSequenceItem(line.text) {
                throw fail(
                    line.mark, "a list item where a key was expected",
                    "indent the list under its key, or write it as a key: value line")
            }
            guard let colon = try keyEnd(in: line) else {
                throw fail(
                    line.mark, "a line that is not 'key: value' inside a mapping",
                    "write 'key: value', or quote a value that spans lines onto one line")
            }
            let key = try parseKey(line, end: colon)
            if let first = seen[key.text] {
                throw fail(key.mark, "duplicate key '\(key.text)' (first at line \(first.line))", "remove one of them")
            }
            seen[key.text] = key.mark
            let valueStart = colon + 1
            let value: YAMLNode
            if Self.isComment(Array(line.text[valueStart...])) {
                index += 1
                if index < lines.count, lines[index].indent > indent {
                    value = try parseBlock(indent: lines[index].indent, depth: depth + 1)
                } else if index < lines.count, lines[index].indent == indent, Self.isSequenceItem(lines[index].text) {
                    value = try parseSequence(indent: indent, depth: depth + 1)
                } else {
                    value = .scalar(
                        YAMLScalar(
                            text: "", style: .plain,
                            mark: SourceMark(line: line.number, column: line.indent + valueStart + 1)))
                }
            } else {
                value = try parseInlineValue(line, from: valueStart)
                index += 1
                try refuseContinuation(after: line, indent: indent)
            }
            entries.append(YAMLMapping.Entry(key: key, value: value))
        }
        return .mapping(YAMLMapping(entries: entries, mark: start.mark))
    }

    private mutating func parseSequence(indent: Int, depth: Int) throws -> YAMLNode {
        let start = lines[index]
        var items: [YAMLNode] = []
        while index < lines.count {
            let line = lines[index]
            if line.indent < indent { break }
            guard line.indent == indent, Self.isSequenceItem(line.text) else {
                if line.indent == indent { break }  // a sibling key of a mapping that holds this list at its own indent
                throw fail(
                    line.mark, "unexpected indentation in a list", "start each item with '- ' at the same column")
            }
            var offset = 1
            while offset < line.text.count, line.text[offset] == " " { offset += 1 }
            let rest = Array(line.text[offset...])
            if Self.isComment(rest) {
                index += 1
                if index < lines.count, lines[index].indent > indent {
                    items.append(try parseBlock(indent: lines[index].indent, depth: depth + 1))
                } else {
                    items.append(
                        .scalar(
                            YAMLScalar(
                                text: "", style: .plain, mark: SourceMark(line: line.number, column: line.indent + 2))))
                }
                continue
            }
            // The item's content becomes a line of its own, indented where it starts, so that
            // `- key: value` items take their further keys at the same column.
            lines[index] = Line(number: line.number, indent: line.indent + offset, text: rest)
            items.append(try parseBlock(indent: line.indent + offset, depth: depth + 1))
        }
        return .sequence(YAMLSequence(items: items, mark: start.mark))
    }

    /// A line more indented than a finished scalar would continue it in YAML (a multi-line scalar).
    private func refuseContinuation(after line: Line, indent: Int) throws {
        if index < lines.count, lines[index].indent > indent {
            throw fail(
                lines[index].mark, "a value spread over several lines",
                "YAML would join these lines into one value; put the whole value on line \(line.number), quoted if needed"
            )
        }
    }

    // MARK: - Keys

    /// The position of the `:` that ends the key on this line, or nil when the line is not a `key: value` entry.
    private func keyEnd(in line: Line) throws -> Int? {
        let text = line.text
        if text.first == "?" && (text.count == 1 || text[1] == " ") {
            throw fail(line.mark, "a complex key ('? ')", "write a plain 'key: value' line")
        }
        if text.first == "\"" || text.first == "'" {
            guard let close = try? Self.quotedEnd(text, from: 0) else { return nil }
            var position = close + 1
            while position < text.count, text[position] == " " { position += 1 }
            return position < text.count && text[position] == ":"
                && (position + 1 == text.count || text[position + 1] == " ") ? position : nil
        }
        var position = 0
        while position < text.count {
            let char = text[position]
            if char == "#", position > 0, text[position - 1] == " " { return nil }
            if char == ":", position + 1 == text.count || text[position + 1] == " " { return position }
            position += 1
        }
        return nil
    }

    private func parseKey(_ line: Line, end: Int) throws -> YAMLScalar {
        let mark = SourceMark(line: line.number, column: line.indent + 1)
        if line.text.first == "\"" || line.text.first == "'" {
            let close = try Self.quotedEnd(line.text, from: 0)
            let text = try unquote(line, from: 0, to: close)
            return YAMLScalar(text: text, style: line.text.first == "\"" ? .doubleQuoted : .singleQuoted, mark: mark)
        }
        var keyText = Array(line.text[0..<end])
        while keyText.last == " " { keyText.removeLast() }
        try refuseIndicators(keyText, line: line, column: 0, what: "a key")
        return YAMLScalar(text: String(keyText), style: .plain, mark: mark)
    }

    // MARK: - Values

    /// Parses the value that starts at `from` on `line` and runs to its end (or a comment).
    private func parseInlineValue(_ line: Line, from: Int) throws -> YAMLNode {
        var start = from
        while start < line.text.count, line.text[start] == " " { start += 1 }
        if start < line.text.count, line.text[start] == "\t" {
            throw fail(line, column: start, "a tab before a value", "separate with spaces")
        }
        let mark = SourceMark(line: line.number, column: line.indent + start + 1)
        let text = line.text
        switch text[start] {
        case "\"", "'":
            let close = try quotedClose(line, from: start)
            let value = try unquote(line, from: start, to: close)
            try requireEnd(line, after: close + 1)
            return .scalar(
                YAMLScalar(text: value, style: text[start] == "\"" ? .doubleQuoted : .singleQuoted, mark: mark))
        case "[":
            return try parseFlowSequence(line, from: start)
        default:
            var end = start
            while end < text.count, !(text[end] == "#" && text[end - 1] == " ") { end += 1 }
            var value = Array(text[start..<end])
            while value.last == " " { value.removeLast() }
            try refuseIndicators(value, line: line, column: start, what: "a value")
            if let colon = Self.mappingIndicator(in: value) {
                throw fail(
                    line, column: start + colon, "a second ': ' on one line",
                    "YAML reads 'a: b: c' as nested mappings; quote the value: \"\(String(value))\"")
            }
            if let tab = value.firstIndex(of: "\t") {
                throw fail(line, column: start + tab, "a tab inside a plain value", "use spaces, or quote the value")
            }
            return .scalar(YAMLScalar(text: String(value), style: .plain, mark: mark))
        }
    }

    /// A `": "` (or a trailing `:`) inside a plain value, which YAML would read as a mapping.
    private static func mappingIndicator(in value: [Character]) -> Int? {
        for position in value.indices where value[position] == ":" {
            if position + 1 == value.count || value[position + 1] == " " { return position }
        }
        return nil
    }

    /// Refuses plain scalars that start with a character YAML gives a meaning to.
    private func refuseIndicators(_ value: [Character], line: Line, column: Int, what: String) throws {
        guard let first = value.first else { return }
        let second: Character? = value.count > 1 ? value[1] : nil
        let refusal: (message: String, fix: String)? =
            switch first {
            case "&": ("an anchor ('&')", "YAML-lite has no anchors; write the value out")
            case "*": ("an alias ('*')", "YAML-lite has no aliases; write the value out")
            case "!": ("a tag ('!')", "YAML-lite has no tags; the schema gives each value its type")
            case "|", ">": ("a block scalar ('\(first)')", "put the value on one line, quoted if needed")
            case "{": ("a flow mapping ('{')", "write the mapping as indented 'key: value' lines")
            case "}", "]": ("an unexpected '\(first)'", "quote the value")
            case "@", "`", "%": ("a value starting with the reserved character '\(first)'", "quote the value")
            case "?" where second == nil || second == " ": ("a complex key ('? ')", "write a plain 'key: value' line")
            case "-" where second == nil || second == " ":
                ("a list item here", "start a list on its own line under the key")
            case ",": ("a value starting with ','", "quote the value")
            default: nil
            }
        if let refusal { throw fail(line, column: column, "\(what) is \(refusal.message)", refusal.fix) }
    }

    private func requireEnd(_ line: Line, after position: Int) throws {
        guard Self.isComment(Array(line.text[min(position, line.text.count)...])) else {
            throw fail(line, column: position, "text after a quoted value", "put the whole value inside the quotes")
        }
    }

    // MARK: - Flow sequences

    private func parseFlowSequence(_ line: Line, from start: Int) throws -> YAMLNode {
        let text = line.text
        var items: [YAMLNode] = []
        var position = start + 1
        func skipSpaces() { while position < text.count, text[position] == " " { position += 1 } }
        skipSpaces()
        if position < text.count, text[position] == "]" {
            try requireEnd(line, after: position + 1)
            return .sequence(
                YAMLSequence(items: [], mark: SourceMark(line: line.number, column: line.indent + start + 1)))
        }
        while true {
            skipSpaces()
            guard position < text.count else {
                throw fail(
                    line, column: start, "a '[' list that does not close on this line",
                    "close it with ']' on the same line, or use '- ' items")
            }
            let mark = SourceMark(line: line.number, column: line.indent + position + 1)
            switch text[position] {
            case "[": throw fail(line, column: position, "a list inside a '[' list", "use '- ' items for nested lists")
            case "{":
                throw fail(
                    line, column: position, "a flow mapping ('{')", "write mappings as indented 'key: value' lines")
            case ",", "]": throw fail(line, column: position, "an empty item in a '[' list", "remove the extra ','")
            case "\"", "'":
                let close = try quotedClose(line, from: position)
                items.append(
                    .scalar(
                        YAMLScalar(
                            text: try unquote(line, from: position, to: close),
                            style: text[position] == "\"" ? .doubleQuoted : .singleQuoted, mark: mark)))
                position = close + 1
            default:
                let itemStart = position
                while position < text.count, !",[]{}".contains(text[position]),
                    !(text[position] == "#" && text[position - 1] == " ")
                {
                    position += 1
                }
                var value = Array(text[itemStart..<position])
                while value.last == " " { value.removeLast() }
                try refuseIndicators(value, line: line, column: itemStart, what: "a list item")
                if Self.mappingIndicator(in: value) != nil || value.contains("#") || value.contains("\t") {
                    throw fail(
                        line, column: itemStart, "a list item YAML would not read as plain text", "quote the item")
                }
                items.append(.scalar(YAMLScalar(text: String(value), style: .plain, mark: mark)))
            }
            skipSpaces()
            guard position < text.count else { continue }
            if text[position] == "]" {
                try requireEnd(line, after: position + 1)
                return .sequence(
                    YAMLSequence(items: items, mark: SourceMark(line: line.number, column: line.indent + start + 1)))
            }
            guard text[position] == "," else {
                throw fail(
                    line, column: position, "'\(text[position])' where ',' or ']' was expected",
                    "separate items with ', '")
            }
            let comma = position
            position += 1
            skipSpaces()
            if position < text.count, text[position] == "]" {
                throw fail(line, column: comma, "a trailing ',' in a '[' list", "remove the last ','")
            }
        }
    }

    // MARK: - Quoted scalars

    /// The index of the closing quote of the scalar opening at `start`.
    static func quotedEnd(_ text: [Character], from start: Int) throws -> Int {
        let quote = text[start]
        var position = start + 1
        while position < text.count {
            if text[position] == quote {
                if quote == "'", position + 1 < text.count, text[position + 1] == "'" { position += 2; continue }
                return position
            }
            if quote == "\"", text[position] == "\\" { position += 2; continue }
            position += 1
        }
        throw UnclosedQuote()
    }

    private struct UnclosedQuote: Error {}

    private func quotedClose(_ line: Line, from start: Int) throws -> Int {
        do {
            return try Self.quotedEnd(line.text, from: start)
        } catch {
            throw fail(
                line, column: start, "a quoted value that does not close on this line",
                "close the quote on the same line")
        }
    }

    private func unquote(_ line: Line, from start: Int, to close: Int) throws -> String {
        let body = Array(line.text[(start + 1)..<close])
        if line.text[start] == "'" { return String(body).replacingOccurrences(of: "''", with: "'") }
        var result = ""
        var position = 0
        while position < body.count {
            let char = body[position]
            guard char == "\\" else {
                result.append(char)
                position += 1
                continue
            }
            guard position + 1 < body.count else { break }
            let code = body[position + 1]
            position += 2
            let simple: [Character: String] = [
                "0": "\0", "a": "\u{07}", "b": "\u{08}", "t": "\t", "\t": "\t", "n": "\n", "v": "\u{0B}",
                "f": "\u{0C}", "r": "\r", "e": "\u{1B}", " ": " ", "\"": "\"", "/": "/", "\\": "\\",
                "N": "\u{85}", "_": "\u{A0}", "L": "\u{2028}", "P": "\u{2029}",
            ]
            if let replacement = simple[code] {
                result += replacement
                continue
            }
            let width: Int? =
                switch code {
                case "x": 2;
                case "u": 4;
                case "U": 8;
                default: nil
                }
            guard let width, position + width <= body.count,
                let value = UInt32(String(body[position..<(position + width)]), radix: 16),
                let scalar = Unicode.Scalar(value)
            else {
                throw fail(
                    line, column: start + 1 + position - 2, "an unknown escape '\\\(code)' in a double-quoted value",
                    "use a YAML escape such as \\n, \\\", \\\\ or \\u00e9, or single quotes")
            }
            result.unicodeScalars.append(scalar)
            position += width
        }
        return result
    }
}

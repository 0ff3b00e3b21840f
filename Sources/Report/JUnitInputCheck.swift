import Foundation

/// A linear pass over a JUnit file before the XML parser sees it, refusing the two shapes that would
/// make reading it slow however small the file: an element with very many attributes (libxml2 checks
/// each attribute against every earlier one of its element, so 300,000 attributes in 3.5 MB take
/// minutes) and a document type declaration (entity definitions expand beyond any file size; no JUnit
/// report has one).
///
/// With at most ``maximumAttributesPerElement`` attributes per element, the parser's work stays
/// linear in the file's size. The pass looks at start tags only, skipping comments, CDATA sections,
/// processing instructions and quoted attribute values, which is all a well-formed document holds.
enum JUnitInputCheck {
    /// The most attributes one element may have. JUnit elements have about a dozen.
    static let maximumAttributesPerElement = 256

    private static let commentStart = Array("<!--".utf8), commentEnd = Array("-->".utf8)
    private static let cdataStart = Array("<![CDATA[".utf8), cdataEnd = Array("]]>".utf8)
    private static let instructionEnd = Array("?>".utf8), tagEnd = Array(">".utf8)

    /// Checks `bytes`.
    /// - throws: ``JUnitReadError`` naming the line of the first element with too many attributes, or of
    ///   the document type declaration.
    static func check(_ bytes: UnsafeRawBufferPointer, path: String) throws {
        let count = bytes.count
        var index = 0
        /// The index just past the first occurrence of `pattern` at or after `from`, or the end.
        func skip(past pattern: [UInt8], from start: Int) -> Int {
            var position = start
            while position + pattern.count <= count {
                if bytes[position] == pattern[0],
                    (1..<pattern.count).allSatisfy({ bytes[position + $0] == pattern[$0] })
                {
                    return position + pattern.count
                }
                position += 1
            }
            return count
        }
        func starts(with pattern: [UInt8], at position: Int) -> Bool {
            position + pattern.count <= count && (0..<pattern.count).allSatisfy { bytes[position + $0] == pattern[$0] }
        }
        while index < count {
            guard bytes[index] == UInt8(ascii: "<"), index + 1 < count else {
                index += 1
                continue
            }
            switch bytes[index + 1] {
            case UInt8(ascii: "!") where starts(with: commentStart, at: index):
                index = skip(past: commentEnd, from: index + commentStart.count)
            case UInt8(ascii: "!") where starts(with: cdataStart, at: index):
                index = skip(past: cdataEnd, from: index + cdataStart.count)
            case UInt8(ascii: "!"):
                throw JUnitReadError(
                    path: path,
                    problem: "has a DOCTYPE or other declaration at line \(line(of: index, in: bytes)); "
                        + "JUnit reports have none, and tokenkeeper does not read one (entity definitions can expand without limit)"
                )
            case UInt8(ascii: "?"):
                index = skip(past: instructionEnd, from: index + 2)
            case UInt8(ascii: "/"):
                index = skip(past: tagEnd, from: index + 2)
            default:
                index = try startTagEnd(bytes, from: index, path: path)
            }
        }
    }

    /// Walks a start tag from its `<`, counting attributes (their `=` outside quotes), and returns the
    /// index past its `>`.
    private static func startTagEnd(_ bytes: UnsafeRawBufferPointer, from start: Int, path: String) throws -> Int {
        var position = start + 1
        var quote: UInt8 = 0
        var attributes = 0
        while position < bytes.count {
            let byte = bytes[position]
            position += 1
            if quote != 0 {
                if byte == quote { quote = 0 }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: "=") {
                attributes += 1
                if attributes > maximumAttributesPerElement {
                    throw JUnitReadError(
                        path: path,
                        problem: "has an element with more than \(maximumAttributesPerElement) attributes at line "
                            + "\(line(of: start, in: bytes)); tokenkeeper refuses it (no JUnit element has that many, and "
                            + "reading them would take time growing with their square)")
                }
            } else if byte == UInt8(ascii: ">") {
                break
            }
        }
        return position
    }

    /// The 1-based line number of byte `offset`.
    private static func line(of offset: Int, in bytes: UnsafeRawBufferPointer) -> Int {
        var line = 1
        for position in 0..<offset where bytes[position] == 0x0A { line += 1 }
        return line
    }
}

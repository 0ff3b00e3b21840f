import Foundation

/// Escaping for XML 1.0 attribute values and text.
enum XMLText {
    /// `text` with `& < > " '` escaped and the characters XML 1.0 cannot hold (most C0 controls,
    /// U+FFFE, U+FFFF) replaced by U+FFFD, so any message, even one quoting a broken input, still
    /// gives a well-formed report.
    static func escaped(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            case "\t", "\n", "\r": result.unicodeScalars.append(scalar)
            case _ where scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF:
                result.unicodeScalars.append("\u{FFFD}")
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    /// An attribute value: escaped, with line breaks and tabs as character references so that XML's
    /// attribute-value normalization does not turn them into spaces.
    static func attribute(_ text: String) -> String {
        escaped(text).replacingOccurrences(of: "\n", with: "&#10;").replacingOccurrences(of: "\r", with: "&#13;")
            .replacingOccurrences(of: "\t", with: "&#9;")
    }
}

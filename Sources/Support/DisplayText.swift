/// Text from outside (a user id read from an unverified id_token, a name in someone else's JUnit file,
/// a provider's error) made safe to show: it cannot start a new line, move the cursor, recolour the
/// terminal or reorder what is shown.
///
/// Escapes use JSON's spelling (`\n`, `\u001b`, a surrogate pair beyond U+FFFF), so escaping the
/// printed form of a JSON document leaves it valid and meaning the same.
package enum DisplayText {
    /// Whether `scalar` must not reach a terminal as it is: control characters (C0, DEL, C1), line and
    /// paragraph separators, and format characters (bidirectional overrides, zero-width characters,
    /// the byte order mark).
    package static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value >= 0x20, scalar.value < 0x7F { return false }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: return true
        default: return false
        }
    }

    /// `text` with every unsafe character written as an escape (`\n`, `\r`, `\t`, `\u001b`), except
    /// those in `kept` (a printer keeps its own line breaks).
    package static func escaped(_ text: String, keeping kept: Set<Unicode.Scalar> = []) -> String {
        guard text.unicodeScalars.contains(where: { isUnsafe($0) && !kept.contains($0) }) else { return text }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            guard isUnsafe(scalar), !kept.contains(scalar) else {
                result.append(scalar)
                continue
            }
            switch scalar {
            case "\n": result.append(contentsOf: "\\n".unicodeScalars)
            case "\r": result.append(contentsOf: "\\r".unicodeScalars)
            case "\t": result.append(contentsOf: "\\t".unicodeScalars)
            default:
                for unit in String(scalar).utf16 { result.append(contentsOf: "\\u\(hex4(unit))".unicodeScalars) }
            }
        }
        return String(result)
    }

    /// `text` with every unsafe character replaced by a space: for prose from outside (a provider's
    /// error description), where an escape would only be noise.
    package static func stripped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isUnsafe) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.map { isUnsafe($0) ? " " : $0 }))
    }

    private static func hex4(_ unit: UInt16) -> String {
        let digits = String(unit, radix: 16)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}

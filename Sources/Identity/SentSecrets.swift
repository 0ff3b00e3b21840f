import Foundation
import Support

/// The secret values one request sent (the refresh token, the client secret, the On-Behalf-Of
/// assertion, the token to revoke), kept for the one moment the provider's answer comes back: a
/// provider or a proxy that echoes the request puts them in `error` and `error_description`, and
/// those reach stdout and every report. ``clean(_:limit:)`` takes them out first.
///
/// Each secret is looked for raw and in the forms a server re-encodes it in (form-encoded with upper-
/// or lower-case hex, `+` for a space, Python's and JavaScript's URL quoting, JSON's escaped slash,
/// base64), and so is every run of ``fragmentLength`` characters of any of those forms, so a secret
/// the provider cut short is caught too. Redaction happens before the text is capped, so the cap never
/// leaves half a secret behind.

struct SentSecrets: Sendable {
    /// The shortest run of a secret's characters that is redacted when found alone.
    static let fragmentLength = 12
    /// Text beyond this many characters is not looked at (it is cut off anyway).
    static let scannedLength = 16_384
    /// What a secret is replaced with.
    static let marker = "<redacted>"

    private let needles: [String]
    private let fragments: Set<String>

    /// The secrets sent, and `literals`: exact texts that reveal them too (an Authorization header's value).
    init(_ secrets: [SecretText], literals: [String] = []) {
        var needles = Set(literals.filter { !$0.isEmpty })
        for secret in secrets where !secret.isEmpty { needles.formUnion(Self.forms(of: secret.revealed)) }
        self.needles = needles.sorted { $0.count > $1.count }
        var fragments = Set<String>()
        for needle in needles {
            let characters = Array(needle.unicodeScalars)
            guard characters.count >= Self.fragmentLength else { continue }
            for start in 0...(characters.count - Self.fragmentLength) {
                fragments.insert(Self.text(characters[start..<(start + Self.fragmentLength)]))
            }
        }
        self.fragments = fragments
    }

    /// `text` from a provider made safe to print and report: every sent secret and every fragment of one
    /// replaced by `<redacted>`, control and format characters replaced by spaces, then capped at `limit`
    /// characters. If a secret could still be read from the result (for example after decoding it
    /// twice), the whole text is withheld instead.
    func clean(_ text: String, limit: Int) -> String {
        var result = String(text.prefix(Self.scannedLength))
        for needle in needles where result.contains(needle) {
            result = result.replacingOccurrences(of: needle, with: Self.marker)
        }
        result = redactFragments(result)
        result = DisplayText.stripped(result)
        if result.count > limit { result = String(result.prefix(limit - 1)) + "…" }
        if stillReveals(result) { return "(withheld: it quoted a secret tokenkeeper sent)" }
        return result
    }

    /// Replaces every run of characters covered by a fragment of a secret.
    private func redactFragments(_ text: String) -> String {
        let characters = Array(text.unicodeScalars)
        guard !fragments.isEmpty, characters.count >= Self.fragmentLength else { return text }
        var covered = [Bool](repeating: false, count: characters.count)
        for start in 0...(characters.count - Self.fragmentLength)
        where fragments.contains(Self.text(characters[start..<(start + Self.fragmentLength)])) {
            for index in start..<(start + Self.fragmentLength) { covered[index] = true }
        }
        guard covered.contains(true) else { return text }
        var result = String.UnicodeScalarView()
        var index = 0
        while index < characters.count {
            if covered[index] {
                result.append(contentsOf: Self.marker.unicodeScalars)
                while index < characters.count, covered[index] { index += 1 }
            } else {
                result.append(characters[index])
                index += 1
            }
        }
        return String(result)
    }

    /// Whether `text`, decoded once or twice from URL-encoding, still holds a secret or a fragment of one.
    private func stillReveals(_ text: String) -> Bool {
        var candidates = [text]
        if let once = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding {
            candidates.append(once)
            if let twice = once.removingPercentEncoding { candidates.append(twice) }
        }
        return candidates.contains { candidate in
            needles.contains { candidate.contains($0) } || redactFragments(candidate) != candidate
        }
    }

    /// The forms a server may echo `secret` in.
    private static func forms(of secret: String) -> [String] {
        let formEncoded = OAuthClient.formEncode(secret)
        var python = CharacterSet.alphanumerics
        python.insert(charactersIn: "-._~/")
        var javascript = CharacterSet.alphanumerics
        javascript.insert(charactersIn: "-_.!~*'()")
        let base64 = Data(secret.utf8).base64EncodedString()
        return [
            secret, formEncoded, lowercasingHex(formEncoded), formEncoded.replacingOccurrences(of: "%20", with: "+"),
            secret.addingPercentEncoding(withAllowedCharacters: python) ?? secret,
            secret.addingPercentEncoding(withAllowedCharacters: javascript) ?? secret,
            secret.replacingOccurrences(of: "/", with: "\\/"), base64,
            base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                .replacingOccurrences(of: "=", with: ""),
        ]
    }

    /// Percent-encoding with lower-case hex digits: `%2b` for `%2B`.
    private static func lowercasingHex(_ text: String) -> String {
        var result = ""
        var hexLeft = 0
        for character in text {
            if character == "%" {
                hexLeft = 2
                result.append(character)
            } else if hexLeft > 0 {
                result += character.lowercased()
                hexLeft -= 1
            } else {
                result.append(character)
            }
        }
        return result
    }

    private static func text(_ scalars: ArraySlice<Unicode.Scalar>) -> String {
        String(String.UnicodeScalarView(scalars))
    }
}

import Support

/// The one rule every way a refresh token comes in is held to (`token put`, `token import`, the
/// library's ``TokenCustodian/put(_:token:issuedAt:expiresAt:)``): one token, as the provider returned
/// it. White space, a line break or a control character means the input is not one token (a pasted
/// line with a comment, two tokens, a file with Windows line ends): stored, it would only fail at the
/// provider weeks later.

package enum RefreshTokenSyntax {
    /// Why `token` cannot be a refresh token, or nil when it can.
    package static func problem(_ token: String) -> String? {
        if token.isEmpty { return "is empty" }
        // Printable ASCII bytes only (every token seen in practice): nothing to refuse, decided byte by byte.
        let printable = { (byte: UInt8) in byte >= 0x21 && byte <= 0x7E }
        if token.utf8.withContiguousStorageIfAvailable({ $0.allSatisfy(printable) }) ?? token.utf8.allSatisfy(printable)
        {
            return nil
        }
        // Printable ASCII (what tokens are made of) is decided without looking up Unicode properties.
        let refused: (Unicode.Scalar) -> Bool = { scalar in
            if (0x21...0x7E).contains(scalar.value) { return false }
            return scalar.properties.isWhitespace || DisplayText.isUnsafe(scalar)
        }
        if token.unicodeScalars.contains(where: refused) {
            return "holds white space, a line break or a control character, so it is not one token"
        }
        return nil
    }
}

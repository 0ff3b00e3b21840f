/// The associated data that binds a sealed refresh token to its row (invariant I2).
///
/// AES-256-GCM authenticates these bytes along with the ciphertext, so a ciphertext copied to another
/// row, or relabelled with another key version, fails to open. Each field is length-prefixed
/// (4 bytes, big endian) after a format tag, so no two different rows can produce the same bytes
/// (`a|bc` and `ab|c` differ).
package enum TokenBinding {
    /// The format tag; changing the layout means a new tag.
    static let formatTag = Array("tokenkeeper.token.v1".utf8)

    /// The associated data for the token of `key`, sealed under `secret` at `keyVersion`.
    package static func associatedData(for key: TokenKey, secret: String, keyVersion: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(64 + key.tenant.utf8.count + key.user.utf8.count + key.provider.utf8.count + secret.utf8.count)
        for field in [formatTag, Array(key.tenant.utf8), Array(key.user.utf8), Array(key.provider.utf8),
                      Array(secret.utf8), Array(String(keyVersion).utf8)] {
            let count = UInt32(field.count)
            bytes.append(contentsOf: [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)])
            bytes.append(contentsOf: field)
        }
        return bytes
    }
}

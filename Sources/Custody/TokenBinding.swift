import Store

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
        write(for: key, secret: secret, keyVersion: keyVersion, into: &bytes)
        return bytes
    }

    /// Writes the associated data into `bytes` (emptied first, capacity kept), so a hot loop such as a
    /// rotation reuses one buffer instead of allocating per row.
    package static func write(for key: TokenKey, secret: String, keyVersion: Int, into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        append(formatTag, to: &bytes)
        append(key.tenant.utf8, to: &bytes)
        append(key.user.utf8, to: &bytes)
        append(key.provider.utf8, to: &bytes)
        append(secret.utf8, to: &bytes)
        append(String(keyVersion).utf8, to: &bytes)
    }

    /// Appends one field: its length (4 bytes, big endian), then its bytes.
    private static func append(_ field: some Collection<UInt8>, to bytes: inout [UInt8]) {
        let count = UInt32(field.count)
        bytes.append(UInt8(count >> 24))
        bytes.append(UInt8((count >> 16) & 0xFF))
        bytes.append(UInt8((count >> 8) & 0xFF))
        bytes.append(UInt8(count & 0xFF))
        bytes.append(contentsOf: field)
    }
}

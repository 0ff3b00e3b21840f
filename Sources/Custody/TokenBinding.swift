import Store

/// The associated data that binds a sealed refresh token, and its wrapped data key, to its row (I2).
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

    /// The format tag of a token sealed under its own data key (the envelope format).
    static let envelopeTokenTag = Array("tokenkeeper.token.v2".utf8)
    /// The format tag of a data key wrapped under a version of the tenant's secret.
    static let dataKeyTag = Array("tokenkeeper.dek.v1".utf8)

    /// The associated data of a token sealed under its own data key: the row's tenant, user and provider
    /// (never a row id: a copied state still opens) and `dataKeyCommitment`, a digest naming the data key,
    /// so the token names the one key it was sealed with (AES-GCM alone does not commit to its key).
    package static func envelopeToken(for key: TokenKey, dataKeyCommitment: [UInt8], into bytes: inout [UInt8]) {
        bytes.removeAll(keepingCapacity: true)
        append(envelopeTokenTag, to: &bytes)
        append(key.tenant.utf8, to: &bytes)
        append(key.user.utf8, to: &bytes)
        append(key.provider.utf8, to: &bytes)
        append(dataKeyCommitment, to: &bytes)
    }

    /// The associated data of a row's data key wrapped under version `keyVersion` of `secret`: the same row
    /// identity, the secret and the version, so a wrapped key copied to another row, or relabelled with
    /// another version, fails to unwrap (I2). Written into `bytes` (emptied first, capacity kept), so the
    /// rotation reuses one buffer.
    package static func dataKey(for key: TokenKey, secret: String, keyVersion: Int, into bytes: inout [UInt8]) {
        dataKeyRow(
            tenant: key.tenant.utf8, user: key.user.utf8, provider: key.provider.utf8, secret: secret.utf8, into: &bytes
        )
        appendDataKeyVersion(keyVersion, to: &bytes)
    }

    /// The part of a data key's associated data before the version: what the old and the new binding of a
    /// rewrap share, written once per row (into `bytes`, emptied first, capacity kept). The fields are their
    /// UTF-8 bytes: a String's `utf8` view, or the bytes the store holds (the rotation's walk, which makes no
    /// String per row).
    package static func dataKeyRow(
        tenant: some Collection<UInt8>, user: some Collection<UInt8>, provider: some Collection<UInt8>,
        secret: some Collection<UInt8>, into bytes: inout [UInt8]
    ) {
        bytes.removeAll(keepingCapacity: true)
        append(dataKeyTag, to: &bytes)
        append(tenant, to: &bytes)
        append(user, to: &bytes)
        append(provider, to: &bytes)
        append(secret, to: &bytes)
    }

    /// Completes a data key's associated data started by ``dataKeyRow(tenant:user:provider:secret:into:)``
    /// with the version that wraps it.
    package static func appendDataKeyVersion(_ keyVersion: Int, to bytes: inout [UInt8]) {
        append(String(keyVersion).utf8, to: &bytes)
    }

    /// Appends one field: its length (4 bytes, big endian), then its bytes.
    private static func append(_ field: some Collection<UInt8>, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: UInt32(field.count).bigEndian) { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: field)
    }
}

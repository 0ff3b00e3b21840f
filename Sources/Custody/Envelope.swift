import Crypto
import Store
import Support

/// Envelope encryption of one token: the token sealed (AES-256-GCM) under its own random 256-bit data
/// key (DEK), the DEK wrapped under a version of the tenant's secret, each with its ``TokenBinding``.
///
/// A rotation then rewraps the DEK (60 bytes) instead of resealing the token. An unwrapped DEK lives
/// only inside one of these calls (in a zeroed-on-release key, or a caller's buffer the caller wipes);
/// nothing caches it.
package enum Envelope {
    /// The bytes of a DEK.
    package static let dataKeyByteCount = SymmetricKey.byteCount
    /// The bytes of a wrapped DEK: `nonce ‖ wrapped key ‖ tag`.
    package static let wrappedKeyByteCount = AESGCMContext.sealedCount(plaintextCount: dataKeyByteCount)

    /// The label the DEK commitment is computed over (HMAC-SHA-256 keyed with the DEK).
    private static let commitmentLabel = Array("tokenkeeper.dek.commitment.v1".utf8)

    /// Seals `plaintext` for the row `key` under a fresh DEK, wrapped by `wrapper` (version `version` of
    /// `secret`). Returns the sealed token and the wrapped DEK. Sets up its OpenSSL state for this one
    /// call: a caller sealing many tokens passes a ``DataKeySealer`` of its own.
    package static func seal(
        _ plaintext: UnsafeRawBufferPointer, for key: TokenKey, secret: String, version: Int, wrapper: AESGCMContext
    ) throws -> (sealed: [UInt8], wrappedKey: [UInt8]) {
        try seal(plaintext, for: key, secret: secret, version: version, wrapper: wrapper, sealer: DataKeySealer())
    }

    /// Seals `plaintext` as ``seal(_:for:secret:version:wrapper:)`` does, with `sealer`'s OpenSSL state
    /// (one per thread, reused for every token it seals): the DEK and both nonces come from one random
    /// draw, and the DEK lives only in this call.
    package static func seal(
        _ plaintext: UnsafeRawBufferPointer, for key: TokenKey, secret: String, version: Int, wrapper: AESGCMContext,
        sealer: DataKeySealer
    ) throws -> (sealed: [UInt8], wrappedKey: [UInt8]) {
        let fresh = try sealer.freshKey()
        var binding: [UInt8] = []
        TokenBinding.envelopeToken(
            for: key, dataKeyCommitment: try sealer.hmacSHA256(key: fresh.key, data: commitmentLabel), into: &binding)
        let sealed = try binding.withUnsafeBytes {
            try sealer.seal(plaintext, key: fresh.key, nonce: fresh.sealNonce, associatedData: $0)
        }
        TokenBinding.dataKey(for: key, secret: secret, keyVersion: version, into: &binding)
        let wrapped = try fresh.key.withUnsafeBytes { raw in
            try binding.withUnsafeBytes { try wrapper.seal(raw, associatedData: $0, nonce: fresh.wrapNonce) }
        }
        return (sealed, wrapped)
    }

    /// Opens the token of an envelope row: unwraps its DEK with `unwrapper` (version `version` of
    /// `secret`), then opens the token. The caller wipes the plaintext.
    /// - throws: ``CryptoError`` when either fails to authenticate (a copied, relabelled or altered value).
    package static func open(
        _ sealed: [UInt8], wrappedKey: [UInt8], for key: TokenKey, secret: String, version: Int,
        unwrapper: AESGCMContext
    ) throws -> [UInt8] {
        let dek = try unwrap(wrappedKey, for: key, secret: secret, version: version, unwrapper: unwrapper)
        var binding: [UInt8] = []
        TokenBinding.envelopeToken(for: key, dataKeyCommitment: try commitment(dek), into: &binding)
        let context = try AESGCMContext(key: dek)
        return try sealed.withUnsafeBytes { box in
            try binding.withUnsafeBytes { try context.open(box, associatedData: $0) }
        }
    }

    /// Writes the associated data of a token sealed under `dataKey` for the row `key` into `bytes`.
    package static func tokenBinding(for key: TokenKey, dataKey: SymmetricKey, into bytes: inout [UInt8]) throws {
        TokenBinding.envelopeToken(for: key, dataKeyCommitment: try commitment(dataKey), into: &bytes)
    }

    /// The DEK of `wrappedKey`, unwrapped with `unwrapper` under the row's binding, as a key that zeroes
    /// itself when released.
    package static func unwrap(
        _ wrappedKey: [UInt8], for key: TokenKey, secret: String, version: Int, unwrapper: AESGCMContext
    ) throws -> SymmetricKey {
        var binding: [UInt8] = []
        TokenBinding.dataKey(for: key, secret: secret, keyVersion: version, into: &binding)
        var raw = [UInt8](repeating: 0, count: dataKeyByteCount)
        defer { wipe(&raw) }
        guard wrappedKey.count == wrappedKeyByteCount else { throw CryptoError.authenticationFailed }
        try raw.withUnsafeMutableBytes { out in
            try wrappedKey.withUnsafeBytes { box in
                try binding.withUnsafeBytes { try unwrapper.open(box, associatedData: $0, into: out) }
            }
        }
        return try SymmetricKey(bytes: raw)
    }

    /// A digest that names the DEK without revealing it: HMAC-SHA-256 keyed with the DEK over a label.
    private static func commitment(_ dek: SymmetricKey) throws -> [UInt8] {
        try HMAC.sha256(key: dek, data: commitmentLabel)
    }
}

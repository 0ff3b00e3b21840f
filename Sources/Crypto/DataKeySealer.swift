import COpenSSL
import Support

#if canImport(Glibc)
    import Glibc
#endif

/// Seals many messages, each under a fresh random key of its own (envelope encryption's data keys), with
/// OpenSSL state set up once per thread: one AES-256-GCM context re-keyed per message, one HMAC-SHA-256
/// context re-keyed per message, and one `RAND_bytes` call per message for its key and both nonces.
///
/// Making and freeing a context pair per key, fetching HMAC's algorithms on every call (as `EVP_Q_mac`
/// does) and three random draws per key were most of the cost of sealing a token (`token import`).
/// The output is the same as ``AESGCMContext``'s and ``HMAC/sha256(key:data:)``'s. Not `Sendable`:
/// one per thread.
package final class DataKeySealer {
    private let cipherContext: OpaquePointer
    private let macContext: OpaquePointer

    /// A fresh data key and the two nonces of the messages it takes part in (sealing under it, and its
    /// own wrapping under another key), drawn from `RAND_bytes` at once.
    package struct FreshKey {
        /// The random 256-bit key, zeroed when released.
        package let key: SymmetricKey
        /// The nonce of the message sealed under ``key``.
        package let sealNonce: [UInt8]
        /// The nonce of ``key`` wrapped under another key.
        package let wrapNonce: [UInt8]
    }

    /// Sets up the contexts.
    /// - throws: ``CryptoError/openSSL(operation:code:)`` when OpenSSL cannot.
    package init() throws {
        guard let cipher = Self.cipher, let cipherContext = EVP_CIPHER_CTX_new() else {
            throw CryptoError.lastOpenSSLError("EVP_CIPHER_CTX_new")
        }
        guard EVP_EncryptInit_ex2(cipherContext, cipher, nil, nil, nil) == 1,
            let mac = Self.mac, let macContext = EVP_MAC_CTX_new(mac)
        else {
            EVP_CIPHER_CTX_free(cipherContext)
            throw CryptoError.lastOpenSSLError("EVP_MAC_CTX_new")
        }
        var params = [
            OSSL_PARAM_construct_utf8_string(Self.digestName, Self.sha256Name, 0), OSSL_PARAM_construct_end(),
        ]
        guard EVP_MAC_CTX_set_params(macContext, &params) == 1 else {
            EVP_CIPHER_CTX_free(cipherContext)
            EVP_MAC_CTX_free(macContext)
            throw CryptoError.lastOpenSSLError("EVP_MAC_CTX_set_params")
        }
        self.cipherContext = cipherContext
        self.macContext = macContext
    }

    deinit {
        // Both free functions cleanse the key state before freeing it.
        EVP_CIPHER_CTX_free(cipherContext)
        EVP_MAC_CTX_free(macContext)
    }

    /// AES-256-GCM and HMAC as fetched once from the default provider (fetching per call is slow in OpenSSL 3).
    nonisolated(unsafe) private static let cipher: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)
    nonisolated(unsafe) private static let mac: OpaquePointer? = EVP_MAC_fetch(nil, "HMAC", nil)
    /// Parameter names as C strings that live for the whole process (an OSSL_PARAM keeps the pointer).
    nonisolated(unsafe) private static let digestName = strdup(OSSL_MAC_PARAM_DIGEST)!
    nonisolated(unsafe) private static let sha256Name = strdup("SHA256")!

    /// A new random key and its two nonces, from one `RAND_bytes` call.
    /// - throws: ``CryptoError/randomFailed`` when the system's random generator fails.
    package func freshKey() throws -> FreshKey {
        let nonce = AESGCM.nonceByteCount
        let random = try SecureBytes(randomCount: SymmetricKey.byteCount + 2 * nonce)
        return try random.withUnsafeBytes { bytes in
            FreshKey(
                key: try SymmetricKey(copying: UnsafeRawBufferPointer(rebasing: bytes[0..<SymmetricKey.byteCount])),
                sealNonce: Array(bytes[SymmetricKey.byteCount..<SymmetricKey.byteCount + nonce]),
                wrapNonce: Array(bytes[(SymmetricKey.byteCount + nonce)...]))
        }
    }

    /// The 32-byte HMAC-SHA256 of `data` under `key`, as ``HMAC/sha256(key:data:)`` computes it.
    package func hmacSHA256(key: SymmetricKey, data: [UInt8]) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: 32)
        var length = 0
        let done = key.withUnsafeBytes { keyBytes in
            data.withUnsafeBytes { dataBytes in
                EVP_MAC_init(
                    macContext, keyBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), keyBytes.count, nil) == 1
                    && EVP_MAC_update(
                        macContext, dataBytes.baseAddress?.assumingMemoryBound(to: UInt8.self), dataBytes.count) == 1
                    && EVP_MAC_final(macContext, &output, &length, output.count) == 1
            }
        }
        guard done, length == 32 else { throw CryptoError.lastOpenSSLError("EVP_MAC(HMAC-SHA256)") }
        return output
    }

    /// Seals `plaintext` under `key` with `nonce` (12 bytes, used with this key once) and `associatedData`,
    /// and returns `nonce ‖ ciphertext ‖ tag`, as ``AESGCMContext`` seals.
    package func seal(
        _ plaintext: UnsafeRawBufferPointer, key: SymmetricKey, nonce: [UInt8], associatedData: UnsafeRawBufferPointer
    ) throws -> [UInt8] {
        guard nonce.count == AESGCM.nonceByteCount else { throw CryptoError.malformedSealedBox(nonce.count) }
        var output = [UInt8](repeating: 0, count: AESGCMContext.sealedCount(plaintextCount: plaintext.count))
        try output.withUnsafeMutableBytes { buffer in
            let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
            base.update(from: nonce, count: nonce.count)
            let keyed = key.withUnsafeBytes { keyBytes in
                EVP_EncryptInit_ex2(
                    cipherContext, nil, keyBytes.baseAddress!.assumingMemoryBound(to: UInt8.self), base, nil) == 1
            }
            guard keyed else { throw CryptoError.lastOpenSSLError("EVP_EncryptInit_ex2") }
            try GCMSealing.seal(
                plaintext, associatedData: associatedData, context: cipherContext,
                into: base + AESGCM.nonceByteCount)
        }
        return output
    }
}

import COpenSSL
import Support

/// An AES-256-GCM key ready for many seals and opens: the OpenSSL contexts are set up once per key
/// and only the nonce changes per message.
///
/// This is the hot path of key rotation (every stored token is opened and sealed again), so it
/// writes straight into the caller's buffers and allocates no OpenSSL state per message. It is not
/// `Sendable`: use one context per thread. Sealed values have the form `nonce ‖ ciphertext ‖ tag`
/// with a 12-byte random nonce from `RAND_bytes` and a 16-byte tag.

package final class AESGCMContext {
    private let sealContext: OpaquePointer
    private let openContext: OpaquePointer

    /// Prepares `key` for sealing and opening.
    /// - throws: ``CryptoError/openSSL(operation:code:)`` when OpenSSL cannot set the key.
    package init(key: SymmetricKey) throws {
        guard let cipher = Self.cipher, let seal = EVP_CIPHER_CTX_new() else {
            throw CryptoError.lastOpenSSLError("EVP_CIPHER_CTX_new")
        }
        guard let open = EVP_CIPHER_CTX_new() else {
            EVP_CIPHER_CTX_free(seal)
            throw CryptoError.lastOpenSSLError("EVP_CIPHER_CTX_new")
        }
        sealContext = seal
        openContext = open
        let ready = key.withUnsafeBytes { bytes -> Bool in
            let keyPointer = bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            return EVP_EncryptInit_ex2(seal, cipher, keyPointer, nil, nil) == 1
                && EVP_DecryptInit_ex2(open, cipher, keyPointer, nil, nil) == 1
        }
        guard ready else { throw CryptoError.lastOpenSSLError("EVP_EncryptInit_ex2") }
    }

    deinit {
        // EVP_CIPHER_CTX_free cleanses the key schedule before freeing it.
        EVP_CIPHER_CTX_free(sealContext)
        EVP_CIPHER_CTX_free(openContext)
    }

    /// AES-256-GCM as fetched once from the default provider (fetching per call is slow in OpenSSL 3).
    nonisolated(unsafe) private static let cipher: OpaquePointer? = EVP_CIPHER_fetch(nil, "AES-256-GCM", nil)

    /// The size of a sealed value for a plaintext of `count` bytes.
    package static func sealedCount(plaintextCount count: Int) -> Int {
        count + AESGCM.nonceByteCount + AESGCM.tagByteCount
    }

    /// Seals `plaintext` with `associatedData` and returns `nonce ‖ ciphertext ‖ tag`.
    /// - Parameter nonce: a nonce the caller drew from `RAND_bytes` (``DataKeySealer/freshKey()``) or a
    ///   known-answer test's; leave nil to get a fresh random nonce.
    package func seal(
        _ plaintext: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
        nonce: [UInt8]? = nil
    ) throws -> [UInt8] {
        var output = [UInt8](repeating: 0, count: Self.sealedCount(plaintextCount: plaintext.count))
        try output.withUnsafeMutableBytes {
            try seal(plaintext, associatedData: associatedData, into: $0, nonce: nonce)
        }
        return output
    }

    /// Seals into `output`, which must be exactly ``sealedCount(plaintextCount:)`` bytes.
    /// - Parameters:
    ///   - nonce: only for known-answer tests; leave nil to get a fresh random nonce.
    ///   - nonces: where the fresh random nonce comes from in a long run of seals on one thread
    ///     (``NonceStream``); nil: one `RAND_bytes` call.
    package func seal(
        _ plaintext: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer, nonce: [UInt8]? = nil, nonces: NonceStream? = nil
    ) throws {
        precondition(output.count == Self.sealedCount(plaintextCount: plaintext.count), "output buffer size")
        let base = output.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let nonceBytes = UnsafeMutableRawBufferPointer(rebasing: output[0..<AESGCM.nonceByteCount])
        if let nonce {
            guard nonce.count == AESGCM.nonceByteCount else { throw CryptoError.malformedSealedBox(nonce.count) }
            base.update(from: nonce, count: nonce.count)
        } else if let nonces {
            try nonces.next(into: nonceBytes)
        } else {
            try SecureRandom.fill(nonceBytes)
        }
        guard EVP_EncryptInit_ex2(sealContext, nil, nil, base, nil) == 1 else {
            throw CryptoError.lastOpenSSLError("EVP_EncryptInit_ex2")
        }
        try GCMSealing.seal(
            plaintext, associatedData: associatedData, context: sealContext, into: base + AESGCM.nonceByteCount)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag` sealed with `associatedData` and returns the plaintext.
    /// - throws: ``CryptoError/authenticationFailed`` for a wrong key or any changed byte; never crashes.
    package func open(_ sealed: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer) throws -> [UInt8] {
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard sealed.count >= overhead else { throw CryptoError.malformedSealedBox(sealed.count) }
        var plaintext = [UInt8](repeating: 0, count: sealed.count - overhead)
        do {
            try plaintext.withUnsafeMutableBytes { try open(sealed, associatedData: associatedData, into: $0) }
        } catch {
            wipe(&plaintext)
            throw error
        }
        return plaintext
    }

    /// Opens into `output`, which must be exactly `sealed.count - 28` bytes. On failure `output` is zeroed.
    package func open(
        _ sealed: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws {
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard sealed.count >= overhead, output.count == sealed.count - overhead else {
            throw CryptoError.malformedSealedBox(sealed.count)
        }
        let base = sealed.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let cipherCount = sealed.count - overhead
        var length: Int32 = 0
        guard EVP_DecryptInit_ex2(openContext, nil, nil, base, nil) == 1 else {
            throw CryptoError.lastOpenSSLError("EVP_DecryptInit_ex2")
        }
        if associatedData.count > 0 {
            guard
                EVP_DecryptUpdate(
                    openContext, nil, &length, associatedData.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    Int32(associatedData.count)) == 1
            else { throw CryptoError.lastOpenSSLError("EVP_DecryptUpdate(aad)") }
        }
        let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if cipherCount > 0 {
            guard EVP_DecryptUpdate(openContext, out, &length, base + AESGCM.nonceByteCount, Int32(cipherCount)) == 1
            else {
                throw CryptoError.lastOpenSSLError("EVP_DecryptUpdate")
            }
        }
        // The tag parameter is read only, but the C signature takes a mutable pointer.
        let tag = UnsafeMutableRawPointer(mutating: base + AESGCM.nonceByteCount + cipherCount)
        guard EVP_CIPHER_CTX_ctrl(openContext, EVP_CTRL_GCM_SET_TAG, Int32(AESGCM.tagByteCount), tag) == 1 else {
            throw CryptoError.lastOpenSSLError("EVP_CTRL_GCM_SET_TAG")
        }
        // GCM's final step writes no bytes; a block's room on the stack all the same (no allocation per open).
        var finalBlock: (UInt64, UInt64) = (0, 0)
        let finished = withUnsafeMutableBytes(of: &finalBlock) {
            EVP_DecryptFinal_ex(openContext, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), &length) == 1
        }
        guard finished else {
            ERR_clear_error()
            if let base = output.baseAddress { OPENSSL_cleanse(base, output.count) }
            throw CryptoError.authenticationFailed
        }
    }
}

import COpenSSL

/// The part of an AES-256-GCM seal shared by every sealer (``AESGCMContext``, ``DataKeySealer``): once a
/// context holds its key and nonce, authenticate the associated data, encrypt, finish and write the tag.
enum GCMSealing {
    /// Encrypts `plaintext` into `ciphertext` (room for `plaintext.count` bytes and then the 16-byte tag)
    /// with `context`, which the caller has initialized for encryption with its key and nonce.
    /// - throws: ``CryptoError/openSSL(operation:code:)`` naming the step OpenSSL refused.
    static func seal(
        _ plaintext: UnsafeRawBufferPointer, associatedData: UnsafeRawBufferPointer, context: OpaquePointer,
        into ciphertext: UnsafeMutablePointer<UInt8>
    ) throws {
        var length: Int32 = 0
        if associatedData.count > 0 {
            guard
                EVP_EncryptUpdate(
                    context, nil, &length, associatedData.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    Int32(associatedData.count)) == 1
            else { throw CryptoError.lastOpenSSLError("EVP_EncryptUpdate(aad)") }
        }
        if plaintext.count > 0 {
            guard
                EVP_EncryptUpdate(
                    context, ciphertext, &length, plaintext.baseAddress!.assumingMemoryBound(to: UInt8.self),
                    Int32(plaintext.count)) == 1
            else { throw CryptoError.lastOpenSSLError("EVP_EncryptUpdate") }
        }
        guard EVP_EncryptFinal_ex(context, ciphertext + plaintext.count, &length) == 1 else {
            throw CryptoError.lastOpenSSLError("EVP_EncryptFinal_ex")
        }
        let tag = ciphertext + plaintext.count
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, Int32(AESGCM.tagByteCount), tag) == 1 else {
            throw CryptoError.lastOpenSSLError("EVP_CTRL_GCM_GET_TAG")
        }
    }
}

/// The result of an AES-256-GCM seal: nonce, ciphertext and tag, stored as one byte string.
public struct SealedBox: Sendable, Equatable {
    /// The 12-byte nonce.
    public let nonce: [UInt8]
    /// The ciphertext, as long as the plaintext.
    public let ciphertext: [UInt8]
    /// The 16-byte authentication tag.
    public let tag: [UInt8]

    /// Creates a box from its parts.
    /// - throws: ``CryptoError/malformedSealedBox(_:)`` when the nonce or tag has the wrong length.
    public init(nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) throws {
        guard nonce.count == AESGCM.nonceByteCount, tag.count == AESGCM.tagByteCount else {
            throw CryptoError.malformedSealedBox(nonce.count + ciphertext.count + tag.count)
        }
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    /// Splits `nonce ‖ ciphertext ‖ tag`, the form the store and the vault keep.
    public init(combined: [UInt8]) throws {
        let overhead = AESGCM.nonceByteCount + AESGCM.tagByteCount
        guard combined.count >= overhead else { throw CryptoError.malformedSealedBox(combined.count) }
        nonce = Array(combined[0..<AESGCM.nonceByteCount])
        ciphertext = Array(combined[AESGCM.nonceByteCount..<(combined.count - AESGCM.tagByteCount)])
        tag = Array(combined[(combined.count - AESGCM.tagByteCount)...])
    }

    /// `nonce ‖ ciphertext ‖ tag`.
    public var combined: [UInt8] { nonce + ciphertext + tag }
}

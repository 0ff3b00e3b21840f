/// AES-256-GCM sealing and opening with associated data, over OpenSSL 3 EVP.
///
/// Each call sets up a fresh context; loops over many values should hold an ``AESGCMContext``.
public enum AESGCM {
    /// The nonce length: 96 bits, the length GCM is designed for (SP 800-38D section 5.2.1.1).
    public static let nonceByteCount = 12
    /// The tag length: 128 bits.
    public static let tagByteCount = 16

    /// Seals `plaintext`, authenticating `associatedData` with it.
    /// - Parameter nonce: only for known-answer tests; nil (the default) draws a random nonce.
    public static func seal(
        _ plaintext: [UInt8], key: SymmetricKey, associatedData: [UInt8] = [],
        nonce: [UInt8]? = nil
    ) throws -> SealedBox {
        let context = try AESGCMContext(key: key)
        let combined = try plaintext.withUnsafeBytes { text in
            try associatedData.withUnsafeBytes { try context.seal(text, associatedData: $0, nonce: nonce) }
        }
        return try SealedBox(combined: combined)
    }

    /// Opens a sealed box.
    /// - throws: ``CryptoError/authenticationFailed`` when the key, the associated data or any byte differs.
    public static func open(_ box: SealedBox, key: SymmetricKey, associatedData: [UInt8] = []) throws -> [UInt8] {
        try open(combined: box.combined, key: key, associatedData: associatedData)
    }

    /// Opens `nonce ‖ ciphertext ‖ tag`.
    public static func open(combined: [UInt8], key: SymmetricKey, associatedData: [UInt8] = []) throws -> [UInt8] {
        let context = try AESGCMContext(key: key)
        return try combined.withUnsafeBytes { sealed in
            try associatedData.withUnsafeBytes { try context.open(sealed, associatedData: $0) }
        }
    }

    /// Seals and returns `nonce ‖ ciphertext ‖ tag`.
    public static func sealCombined(_ plaintext: [UInt8], key: SymmetricKey, associatedData: [UInt8] = []) throws
        -> [UInt8]
    {
        try seal(plaintext, key: key, associatedData: associatedData).combined
    }
}

import COpenSSL

/// A 256-bit AES key held in a ``SecureBytes`` buffer that is wiped when the key goes away.

public struct SymmetricKey: Sendable, Equatable {
    /// The only key size tokenkeeper uses: 32 bytes (AES-256).
    public static let byteCount = 32

    let storage: SecureBytes

    /// Copies a 32-byte key.
    /// - throws: ``CryptoError/wrongKeySize(_:)`` for any other length.
    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else { throw CryptoError.wrongKeySize(bytes.count) }
        storage = bytes.withUnsafeBytes { SecureBytes(copying: $0) }
    }

    /// Copies a 32-byte key from raw memory.
    package init(copying bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count == Self.byteCount else { throw CryptoError.wrongKeySize(bytes.count) }
        storage = SecureBytes(copying: bytes)
    }

    /// A new random key from `RAND_bytes`.
    public static func random() throws -> SymmetricKey {
        SymmetricKey(storage: try SecureBytes(randomCount: byteCount))
    }

    private init(storage: SecureBytes) { self.storage = storage }

    /// Calls `body` with the key bytes; the pointer must not escape.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeBytes(body)
    }

    /// Constant-time comparison (`CRYPTO_memcmp`), so comparing keys leaks no timing.
    public static func == (lhs: SymmetricKey, rhs: SymmetricKey) -> Bool {
        lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in a.count == b.count && CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 }
        }
    }
}

import COpenSSL

/// Random bytes from OpenSSL's `RAND_bytes` (a CSPRNG seeded from the operating system).

public enum SecureRandom {
    /// `count` random bytes, for nonces and identifiers (use ``SymmetricKey/random()`` for keys).
    public static func bytes(_ count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard count == 0 || RAND_bytes(&bytes, Int32(count)) == 1 else { throw CryptoError.randomFailed }
        return bytes
    }

    /// Fills `buffer` with random bytes.
    static func fill(_ buffer: UnsafeMutableRawBufferPointer) throws {
        guard
            buffer.count == 0
                || RAND_bytes(buffer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(buffer.count)) == 1
        else {
            throw CryptoError.randomFailed
        }
    }
}

import COpenSSL

/// Random nonces for a long run of seals on one thread, drawn from OpenSSL's `RAND_bytes` a block at a
/// time instead of one call per nonce.
///
/// The bytes are exactly what `RAND_bytes` returns (OpenSSL's CSPRNG), handed out once each in order, so
/// every nonce is as random and as unique as one fetched alone; a call to `RAND_bytes` costs about as much
/// as sealing a data key (locks, a fork check, the generator's setup), and a rotation seals one per row.
/// Nonces are not secret (they are stored beside the ciphertext); the unused rest of a block is wiped when
/// the stream goes away all the same. Not `Sendable`: one stream per thread, never shared with a child
/// process.
package final class NonceStream {
    private var block: [UInt8]
    private var used: Int

    /// A stream that fetches `blockSize` random bytes at a time.
    package init(blockSize: Int = 4_096) {
        block = [UInt8](repeating: 0, count: max(blockSize, AESGCM.nonceByteCount))
        used = block.count
    }

    deinit { OPENSSL_cleanse(&block, block.count) }

    /// Fills `nonce` with the stream's next random bytes (a new block is fetched when this one runs out).
    /// - throws: ``CryptoError/randomFailed`` when OpenSSL has no randomness to give.
    package func next(into nonce: UnsafeMutableRawBufferPointer) throws {
        guard nonce.count <= block.count else { return try SecureRandom.fill(nonce) }
        if block.count - used < nonce.count {
            try block.withUnsafeMutableBytes { try SecureRandom.fill($0) }
            used = 0
        }
        block.withUnsafeBytes { bytes in
            nonce.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[used..<used + nonce.count]))
        }
        // Handed out once: a byte of the block never serves two nonces.
        used += nonce.count
    }
}

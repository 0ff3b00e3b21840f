import COpenSSL

/// A fixed-size buffer for key material that is wiped with `OPENSSL_cleanse` when it is freed.
///
/// Keys live only in these buffers, never in `Array`s that Swift may copy and leave behind. The bytes
/// are reachable only inside ``withUnsafeBytes(_:)``. Being a class, copies of a ``SymmetricKey``
/// share one buffer, wiped once when the last reference goes.

package final class SecureBytes: @unchecked Sendable {
    // The buffer is written only in `init` and read afterwards, so sharing it across threads is safe.
    private let pointer: UnsafeMutableRawBufferPointer

    /// Copies `bytes` into a new buffer. The caller should wipe its own copy if it has one.
    package init(copying bytes: UnsafeRawBufferPointer) {
        pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        if bytes.count > 0 { pointer.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
        count = bytes.count
    }

    /// Fills a new buffer of `count` bytes with `RAND_bytes`.
    /// - throws: ``CryptoError/randomFailed`` when the system's random generator fails.
    package init(randomCount count: Int) throws {
        pointer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        self.count = count
        guard RAND_bytes(pointer.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(count)) == 1 else {
            OPENSSL_cleanse(pointer.baseAddress, pointer.count)
            pointer.deallocate()
            throw CryptoError.randomFailed
        }
    }

    /// The number of bytes held.
    package let count: Int

    /// Calls `body` with the bytes; the pointer must not escape.
    package func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: pointer[0..<count]))
    }

    deinit {
        OPENSSL_cleanse(pointer.baseAddress, pointer.count)
        pointer.deallocate()
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wipes a byte array in place: for plaintext tokens, secrets read from files and decoded keys that
/// had to pass through an array. Uses the C library's `explicit_bzero` (`memset_s` on Darwin), which
/// the compiler may not remove as a dead store; it lives here, below Crypto, so that every layer
/// that reads a secret (Spec reads `file:` references) can wipe it.
package func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        #if canImport(Darwin)
            _ = memset_s(base, buffer.count, 0, buffer.count)
        #else
            explicit_bzero(base, buffer.count)
        #endif
    }
}

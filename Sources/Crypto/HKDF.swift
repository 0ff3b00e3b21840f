import COpenSSL
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// HKDF with SHA-256 (RFC 5869), through OpenSSL's EVP_KDF "HKDF".

public enum HKDF {
    /// Parameter names as C strings that live for the whole process: an OSSL_PARAM keeps the
    /// pointer to its key, so a temporary bridged Swift string would dangle.
    nonisolated(unsafe) private static let digestName = strdup(OSSL_KDF_PARAM_DIGEST)!
    nonisolated(unsafe) private static let keyName = strdup(OSSL_KDF_PARAM_KEY)!
    nonisolated(unsafe) private static let saltName = strdup(OSSL_KDF_PARAM_SALT)!
    nonisolated(unsafe) private static let infoName = strdup(OSSL_KDF_PARAM_INFO)!
    nonisolated(unsafe) private static let sha256Name = strdup("SHA256")!

    /// Derives `outputByteCount` bytes from `inputKey`, `salt` and `info`. An empty salt means
    /// "not provided" (RFC 5869 section 2.2: a string of zeros), an empty info means none.
    public static func sha256(inputKey: [UInt8], salt: [UInt8], info: [UInt8], outputByteCount: Int) throws -> [UInt8] {
        guard let kdf = EVP_KDF_fetch(nil, "HKDF", nil) else {
            throw CryptoError.lastOpenSSLError("EVP_KDF_fetch(HKDF)")
        }
        defer { EVP_KDF_free(kdf) }
        guard let context = EVP_KDF_CTX_new(kdf) else { throw CryptoError.lastOpenSSLError("EVP_KDF_CTX_new") }
        defer { EVP_KDF_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: outputByteCount)
        var key = inputKey, saltBytes = salt, infoBytes = info
        defer { wipe(&key) }
        let status = key.withUnsafeMutableBytes { keyBuffer in
            saltBytes.withUnsafeMutableBytes { saltBuffer in
                infoBytes.withUnsafeMutableBytes { infoBuffer in
                    var params = [
                        OSSL_PARAM_construct_utf8_string(digestName, sha256Name, 0),
                        OSSL_PARAM_construct_octet_string(keyName, keyBuffer.baseAddress, keyBuffer.count),
                    ]
                    if saltBuffer.count > 0 {
                        params.append(
                            OSSL_PARAM_construct_octet_string(saltName, saltBuffer.baseAddress, saltBuffer.count))
                    }
                    if infoBuffer.count > 0 {
                        params.append(
                            OSSL_PARAM_construct_octet_string(infoName, infoBuffer.baseAddress, infoBuffer.count))
                    }
                    params.append(OSSL_PARAM_construct_end())
                    return EVP_KDF_derive(context, &output, outputByteCount, &params)
                }
            }
        }
        guard status == 1 else { throw CryptoError.lastOpenSSLError("EVP_KDF_derive") }
        return output
    }
}

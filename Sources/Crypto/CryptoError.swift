import COpenSSL
import Support

/// A failure of a cryptographic operation. Never carries key or plaintext bytes.

public enum CryptoError: ActionableError, SealingFailure, Equatable {
    /// AES-GCM open failed: wrong key, tampered ciphertext, tag, nonce or associated data.
    case authenticationFailed
    /// A key of the wrong length.
    case wrongKeySize(Int)
    /// A sealed box too short to hold a nonce and a tag, or a nonce of the wrong length.
    case malformedSealedBox(Int)
    /// The system random generator failed.
    case randomFailed
    /// OpenSSL reported an error in `operation`.
    case openSSL(operation: String, code: UInt)

    public var item: String { "cryptography" }
    public var problem: String {
        switch self {
        case .authenticationFailed: "authentication failed: the ciphertext, its associated data or the key do not match"
        case .wrongKeySize(let count): "a key must be 32 bytes, got \(count)"
        case .malformedSealedBox(let count):
            "a sealed value must hold a 12-byte nonce and a 16-byte tag, got \(count) bytes"
        case .randomFailed: "the system random generator (RAND_bytes) failed"
        case .openSSL(let operation, let code): "OpenSSL \(operation) failed (error \(String(code, radix: 16)))"
        }
    }
    public var remedy: String {
        switch self {
        case .authenticationFailed:
            "The data was changed or belongs elsewhere; restore it from a backup or re-add the token."
        case .randomFailed, .openSSL: "Check the OpenSSL 3 installation (libssl3) and try again."
        case .wrongKeySize, .malformedSealedBox: "The value is corrupt; restore it from a backup."
        }
    }
    public var exitStatus: ExitStatus { .environment }

    /// The last OpenSSL error for `operation`, clearing OpenSSL's error queue.
    static func lastOpenSSLError(_ operation: String) -> CryptoError {
        let code = ERR_get_error()
        ERR_clear_error()
        return .openSSL(operation: operation, code: code)
    }
}

import Crypto
import Foundation
import Support

/// The 32-byte key that wraps every data key in the vault. It is never stored next to the vault:
/// it comes from `TOKENKEEPER_MASTER_KEY` (base64) or a 0600 key file, and errors about it never
/// echo its value.

public struct MasterKey: Sendable {
    /// The key itself.
    let key: SymmetricKey

    /// A new random master key.
    public static func generate() throws -> MasterKey { MasterKey(key: try SymmetricKey.random()) }

    private init(key: SymmetricKey) { self.key = key }

    /// Reads a base64 key (surrounding white space ignored).
    /// - throws: ``MasterKeyError`` when the text is not base64 or not 32 bytes; the message never shows the text.
    public init(base64 text: String, source: String = "TOKENKEEPER_MASTER_KEY") throws {
        guard var bytes = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)).map(Array.init)
        else {
            throw MasterKeyError(source: source, problem: "is not base64")
        }
        defer { wipe(&bytes) }
        guard bytes.count == SymmetricKey.byteCount else {
            throw MasterKeyError(source: source, problem: "decodes to \(bytes.count) bytes, not 32")
        }
        key = try SymmetricKey(bytes: bytes)
    }

    /// Reads a key file holding the base64 key. The file must not be readable by group or others.
    public init(contentsOfFile path: String) throws {
        var bytes = try PrivateFiles.readPrivate(path)
        defer { wipe(&bytes) }
        try self.init(base64: String(decoding: bytes, as: UTF8.self), source: path)
    }

    /// The key as base64, to print or write once when it is made.
    public var base64: String { key.withUnsafeBytes { Data($0).base64EncodedString() } }

    /// A public identifier of this key (HKDF output, reveals nothing about the key): lets the vault tell
    /// a wrong master key from a corrupt file, and say which key wrapped each version.
    var identifier: String {
        get throws {
            try key.withUnsafeBytes { bytes in
                Hex.encode(
                    try HKDF.sha256(
                        inputKey: Array(bytes), salt: [], info: Array("tokenkeeper master key id v1".utf8),
                        outputByteCount: 16))
            }
        }
    }

    /// The key for the HMAC trailers of vault files, derived so the master key itself never MACs.
    var fileMACKey: SymmetricKey {
        get throws {
            try key.withUnsafeBytes { bytes in
                try SymmetricKey(
                    bytes: HKDF.sha256(
                        inputKey: Array(bytes), salt: [], info: Array("tokenkeeper vault file mac v1".utf8),
                        outputByteCount: 32))
            }
        }
    }
}

/// A master key that cannot be used.
public struct MasterKeyError: ActionableError {
    /// Where the key came from: the environment variable or the file.
    public let source: String
    public let problem: String
    public var item: String { source }
    public var remedy: String { "Give the base64 master key that `tokenkeeper vault init` printed (32 bytes)." }
    public var exitStatus: ExitStatus { .environment }
}

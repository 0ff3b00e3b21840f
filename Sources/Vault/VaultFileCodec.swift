import Crypto
import Foundation
import Support

/// Reads and writes vault files: one line of JSON, then a trailer line
/// `#tokenkeeper sha256=<hex> mac=<hex> key=<master key id>`.
///
/// The SHA-256 tells accidental damage (a flipped byte) from everything else without any key; the
/// HMAC-SHA256, under a key derived from the master key, tells a file changed by someone without
/// the master key; the key id says which master key wrote it (a rekey moves files one at a time).
/// Files are written atomically, mode 0600 (``PrivateFiles``).

enum VaultFileCodec {
    /// The JSON encoder every vault file uses: sorted keys, ISO 8601 dates, snake_case.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// A file read back: its body and the id of the master key that MAC'd it.
    struct Contents<Body> {
        var body: Body
        var keyID: String
    }

    /// Writes `body` to `path` with a trailer made with `macKey` of master key `keyID`.
    /// `syncingFolder`: see ``PrivateFiles/writeAtomically(_:to:mode:syncingFolder:)``.
    static func write<Body: Encodable>(
        _ body: Body, to path: String, macKey: SymmetricKey, keyID: String, syncingFolder: Bool = true
    ) throws {
        let json = Array(try encoder.encode(body))
        let trailer =
            "#tokenkeeper sha256=\(SHA256.hexDigest(json)) mac=\(Hex.encode(try HMAC.sha256(key: macKey, data: json))) key=\(keyID)"
        try PrivateFiles.writeAtomically(
            json + [0x0A] + Array(trailer.utf8) + [0x0A], to: path, syncingFolder: syncingFolder)
    }

    /// Reads `path`, checking permissions, the checksum and the MAC.
    /// - Parameter macKeys: the MAC keys of the master keys allowed to have written the file, by key id.
    /// - throws: ``VaultError/corrupt(file:detail:)`` for damage or tampering, ``InsecurePermissionsError``.
    static func read<Body: Decodable>(_ type: Body.Type, from path: String, macKeys: [String: SymmetricKey]) throws
        -> Contents<Body>
    {
        let (json, checksum, mac, keyID) = try split(path)
        guard SHA256.hexDigest(json) == checksum else {
            throw VaultError.corrupt(file: path, detail: "its checksum does not match (damaged on disk)")
        }
        guard let macKey = macKeys[keyID] else {
            throw VaultError.corrupt(file: path, detail: "it was written with another master key (\(keyID))")
        }
        guard let expected = Hex.decode(mac), HMAC.equal(expected, try HMAC.sha256(key: macKey, data: json)) else {
            throw VaultError.corrupt(file: path, detail: "its MAC does not match (changed outside tokenkeeper)")
        }
        do {
            return Contents(body: try decoder.decode(Body.self, from: Data(json)), keyID: keyID)
        } catch {
            throw VaultError.corrupt(file: path, detail: "its content is not what tokenkeeper wrote")
        }
    }

    /// The key id in a file's trailer, after checking only the checksum (used before the key is known).
    static func keyID(of path: String) throws -> String {
        let (json, checksum, _, keyID) = try split(path)
        guard SHA256.hexDigest(json) == checksum else {
            throw VaultError.corrupt(file: path, detail: "its checksum does not match (damaged on disk)")
        }
        return keyID
    }

    private static func split(_ path: String) throws -> (json: [UInt8], checksum: String, mac: String, keyID: String) {
        let bytes = try PrivateFiles.readPrivate(path)
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: true)
        guard lines.count == 2 else {
            throw VaultError.corrupt(file: path, detail: "it does not have a body and a trailer line")
        }
        let fields = String(decoding: lines[1], as: UTF8.self).split(separator: " ")
        var values: [String: String] = [:]
        for field in fields.dropFirst() {
            let parts = field.split(separator: "=", maxSplits: 1)
            if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
        }
        guard fields.first == "#tokenkeeper", let checksum = values["sha256"], let mac = values["mac"],
            let keyID = values["key"]
        else {
            throw VaultError.corrupt(file: path, detail: "its trailer line is damaged")
        }
        return (Array(lines[0]), checksum, mac, keyID)
    }
}

/// `vault.json`: what makes a folder a vault.
struct VaultManifest: Codable {
    /// The layout version of the vault folder.
    var format: Int
    var createdAt: Date
    /// Days a soft-deleted secret is kept before it may be purged.
    var retentionDays: Int
    /// The id of the master key that opens the vault.
    var masterKeyId: String
    /// The store the vault serves; absent until it is first used with one.
    var store: StoreBinding?
    /// The mark `state copy` left (frozen, moved, receiving); absent for a vault in use.
    var mark: StateMark?
}

/// `policies.json`: principals and their permissions.
struct PolicyFile: Codable {
    var principals: [String: [VaultPermission]]
}

/// `secrets/<name>.json`: one secret, its versions and its soft-delete state.
struct SecretFile: Codable {
    struct Version: Codable {
        var version: Int
        var createdAt: Date
        var enabled: Bool
        /// The id of the master key that wrapped this version's data key.
        var masterKeyId: String
        /// base64 of `nonce ‖ ciphertext ‖ tag`: the data key sealed under the master key.
        var wrappedKey: String
    }
    struct Deletion: Codable {
        var deletedAt: Date
        var scheduledPurgeAt: Date
    }
    var name: String
    var createdAt: Date
    var versions: [Version]
    var deleted: Deletion?
}

import Crypto
import Foundation

/// The integrity MAC every row of a ``PostgresVault`` carries: HMAC-SHA256, under a key derived (HKDF)
/// from the master key with a label of its own, over a canonical encoding of the row's table and columns,
/// its identity (secret name, version number, principal) included.
///
/// So a row changed by someone without the master key (an `UPDATE` of a wrapped key, an enabled flag, a
/// policy), or moved to another secret, version or principal, no longer matches and is refused, naming
/// the row. It does not prove that no row was deleted or put back from an older copy (as a vault folder
/// restored from an old backup would not either): deletion is only caught where the vault counts what it
/// wrote (a secret's latest version number).
///
/// The encoding is unambiguous: the table name, then each column as a type tag and, for variable-length
/// values, a 4-byte big-endian length, so no two different rows encode to the same bytes.
struct PostgresVaultRowMAC: Sendable {
    /// One column's value.
    enum Field {
        case text(String?)
        case int(Int64?)
        case bool(Bool)
        case bytes([UInt8])
    }

    private let key: SymmetricKey

    /// The MAC key of `masterKey`: never the master key itself, and never the key of the file vault's trailers.
    init(masterKey: MasterKey) throws {
        key = try masterKey.key.withUnsafeBytes { bytes in
            try SymmetricKey(
                bytes: HKDF.sha256(
                    inputKey: Array(bytes), salt: [], info: Array("tokenkeeper postgres vault row mac v1".utf8),
                    outputByteCount: 32))
        }
    }

    /// The MAC of a row of `table` with `fields`, in the table's column order.
    func mac(_ table: String, _ fields: [Field]) throws -> [UInt8] {
        try HMAC.sha256(key: key, data: Self.encode(table, fields))
    }

    /// Whether `mac` is the MAC of the row (compared in constant time).
    func matches(_ mac: [UInt8]?, _ table: String, _ fields: [Field]) throws -> Bool {
        guard let mac else { return false }
        return HMAC.equal(mac, try self.mac(table, fields))
    }

    /// The canonical bytes of a row.
    static func encode(_ table: String, _ fields: [Field]) -> [UInt8] {
        var out: [UInt8] = []
        func append(tag: UInt8, _ bytes: [UInt8]) {
            out.append(tag)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { out += $0 }
            out += bytes
        }
        append(tag: 0x54, Array(table.utf8))
        for field in fields {
            switch field {
            case .text(nil), .int(nil): out.append(0x00)
            case .text(let value?): append(tag: 0x01, Array(value.utf8))
            case .int(let value?):
                out.append(0x02)
                withUnsafeBytes(of: value.bigEndian) { out += $0 }
            case .bool(let value): out += [0x03, value ? 1 : 0]
            case .bytes(let value): append(tag: 0x04, value)
            }
        }
        return out
    }
}

import Foundation
import PostgresClient

/// The rows of a ``PostgresVault``'s tables as Swift values, each with the columns its MAC covers
/// (``PostgresVaultRowMAC``), in table order. Times are whole unix milliseconds.

/// The `vault_meta` row: what makes a schema a vault (`vault.json` of the file vault).
struct VaultMetaRow {
    var format: Int
    var createdAt: Date
    var retentionDays: Int
    var masterKeyID: String
    var store: StoreBinding?

    static let table = "vault_meta"
    static let columns =
        "format, created_at, retention_days, master_key_id, store_id, store_held_tokens, store_bound_at"

    var macFields: [PostgresVaultRowMAC.Field] {
        [
            .int(Int64(format)), .int(millis(createdAt)), .int(Int64(retentionDays)), .text(masterKeyID),
            .text(store?.storeID), .int(store.map { $0.heldTokens ? 1 : 0 }), .int(store.map { millis($0.boundAt) }),
        ]
    }

    /// The parameters of ``columns``, in order.
    var values: [PostgresValue] {
        [
            .int4(Int32(format)), .time(createdAt), .int4(Int32(retentionDays)), .text(masterKeyID),
            .text(store?.storeID), store.map { .bool($0.heldTokens) } ?? .null(oid: PostgresValue.Oid.bool),
            .time(store?.boundAt),
        ]
    }

    /// Row `index` of a query selecting ``columns``.
    init(_ rows: PostgresRows, _ index: Int) {
        format = Int(rows.int(index, 0))
        createdAt = rows.date(index, 1) ?? Date(timeIntervalSince1970: 0)
        retentionDays = Int(rows.int(index, 2))
        masterKeyID = rows.text(index, 3)
        store = rows.optionalText(index, 4).map { id in
            StoreBinding(
                storeID: id, heldTokens: rows.int(index, 5) != 0,
                boundAt: rows.date(index, 6) ?? Date(timeIntervalSince1970: 0))
        }
    }

    init(format: Int, createdAt: Date, retentionDays: Int, masterKeyID: String, store: StoreBinding?) {
        self.format = format
        self.createdAt = createdAt
        self.retentionDays = retentionDays
        self.masterKeyID = masterKeyID
        self.store = store
    }
}

/// A `vault_secrets` row: one secret and its soft-delete state.
struct VaultSecretRow {
    var name: String
    var createdAt: Date
    /// The highest version number the secret has given (the newest version's, which is never purged).
    var lastVersion: Int
    var deletedAt: Date?
    var purgeAt: Date?

    static let table = "vault_secrets"
    static let columns = "name, created_at, last_version, deleted_at, purge_at"

    var macFields: [PostgresVaultRowMAC.Field] {
        [
            .text(name), .int(millis(createdAt)), .int(Int64(lastVersion)), .int(deletedAt.map(millis)),
            .int(purgeAt.map(millis)),
        ]
    }

    var values: [PostgresValue] {
        [.text(name), .time(createdAt), .int4(Int32(lastVersion)), .time(deletedAt), .time(purgeAt)]
    }

    init(_ rows: PostgresRows, _ index: Int) {
        name = rows.text(index, 0)
        createdAt = rows.date(index, 1) ?? Date(timeIntervalSince1970: 0)
        lastVersion = Int(rows.int(index, 2))
        deletedAt = rows.date(index, 3)
        purgeAt = rows.date(index, 4)
    }

    init(name: String, createdAt: Date, lastVersion: Int) {
        self.name = name
        self.createdAt = createdAt
        self.lastVersion = lastVersion
    }
}

/// A `vault_versions` row: one version and its data key, wrapped under the master key exactly as the file
/// vault wraps it (AES-256-GCM `nonce ‖ ciphertext ‖ tag`, associated data binding secret and version).
struct VaultVersionRow {
    var secret: String
    var version: Int
    var createdAt: Date
    var enabled: Bool
    var masterKeyID: String
    var wrappedKey: [UInt8]

    static let table = "vault_versions"
    static let columns = "secret, version, created_at, enabled, master_key_id, wrapped_key"

    var macFields: [PostgresVaultRowMAC.Field] {
        [
            .text(secret), .int(Int64(version)), .int(millis(createdAt)), .bool(enabled), .text(masterKeyID),
            .bytes(wrappedKey),
        ]
    }

    var values: [PostgresValue] {
        [
            .text(secret), .int4(Int32(version)), .time(createdAt), .bool(enabled), .text(masterKeyID),
            .bytea(wrappedKey),
        ]
    }

    /// What the protocol reports of it.
    var summary: SecretVersion { SecretVersion(number: version, createdAt: createdAt, enabled: enabled) }

    init(_ rows: PostgresRows, _ index: Int) {
        secret = rows.text(index, 0)
        version = Int(rows.int(index, 1))
        createdAt = rows.date(index, 2) ?? Date(timeIntervalSince1970: 0)
        enabled = rows.int(index, 3) != 0
        masterKeyID = rows.text(index, 4)
        wrappedKey = rows.bytes(index, 5) ?? []
    }

    init(secret: String, version: Int, createdAt: Date, enabled: Bool, masterKeyID: String, wrappedKey: [UInt8]) {
        self.secret = secret
        self.version = version
        self.createdAt = createdAt
        self.enabled = enabled
        self.masterKeyID = masterKeyID
        self.wrappedKey = wrappedKey
    }
}

/// A `vault_policies` row's MAC'd columns: the principal and its permissions, comma-separated in order.
enum VaultPolicyRow {
    static let table = "vault_policies"

    static func text(_ permissions: Set<VaultPermission>) -> String {
        permissions.sorted().map(\.rawValue).joined(separator: ",")
    }

    static func macFields(principal: String, permissions: String) -> [PostgresVaultRowMAC.Field] {
        [.text(principal), .text(permissions)]
    }
}

/// A `vault_audit` row's MAC'd columns (every column but the id).
extension AuditLog.Entry {
    static let table = "vault_audit"

    var macFields: [PostgresVaultRowMAC.Field] {
        [
            .int(millis(time)), .text(principal), .text(operation), .text(secret), .int(version.map(Int64.init)),
            .text(outcome),
        ]
    }
}

/// A date as the whole unix milliseconds it is stored as.
func millis(_ date: Date) -> Int64 { PostgresValue.milliseconds(date) }

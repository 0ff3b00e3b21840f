import Crypto
import Foundation
import PostgresClient
import Support

/// `state copy` on a ``PostgresVault``: the mark in `vault_state_mark` (vault schema migration 2, its row
/// under the row MAC like every other) and the export and import of whole secrets, version numbers kept.
extension PostgresVault {
    /// The mark in `vault_state_mark`, read now (its row checked).
    public func stateMark() throws -> StateMark? {
        try withSession { try loadStateMark(in: $0) }
    }

    /// Sets or clears the mark. Needs every permission; audited; works on a frozen vault, never on a
    /// read-only one.
    public func setStateMark(_ mark: StateMark?) throws {
        let operation = mark.map { "mark state \($0.kind.rawValue) (\($0.peer))" } ?? "clear state mark"
        try mutating(operation, secret: nil, permissions: Set(VaultPermission.allCases), ignoringMark: true) { db in
            try db.query("DELETE FROM vault_state_mark", purpose: "clear the state mark")
            if let mark { try writeStateMark(mark, in: db) }
        }
    }

    /// One secret, live or soft-deleted, every version's key unwrapped in memory. Needs `get`; audited.
    public func exportSecret(_ name: String) throws -> ExportedSecret {
        try reading("export secret", secret: name, permission: .get) { db in
            let (secret, versions) = try requireSecret(name, in: db)
            return ExportedSecret(
                name: secret.name, createdAt: secret.createdAt,
                versions: try versions.map {
                    ExportedSecret.Version(
                        number: $0.version, createdAt: $0.createdAt, enabled: $0.enabled, key: try unwrap($0))
                },
                deletion: secret.deletedAt.map {
                    DeletedSecret(name: name, deletedAt: $0, scheduledPurgeAt: secret.purgeAt ?? $0)
                })
        }
    }

    /// Writes a secret exactly as exported (numbers, times, enabled flags, soft-delete state), each key
    /// wrapped under this vault's master key with its binding, replacing a secret of that name, in one
    /// transaction. Needs every permission; audited.
    public func importSecret(_ secret: ExportedSecret) throws {
        try SecretName.validate(secret.name)
        let versions = secret.versions.sorted { $0.number < $1.number }
        try mutating("import secret", secret: secret.name, permissions: Set(VaultPermission.allCases)) { db in
            // The versions go with the old row (ON DELETE CASCADE).
            try db.query("DELETE FROM vault_secrets WHERE name = $1", [.text(secret.name)], purpose: "replace a secret")
            var row = VaultSecretRow(
                name: secret.name, createdAt: secret.createdAt, lastVersion: versions.last?.number ?? 0)
            row.deletedAt = secret.deletion?.deletedAt
            row.purgeAt = secret.deletion?.scheduledPurgeAt
            try writeSecret(row, in: db, inserting: true)
            for version in versions {
                let wrapped = try version.key.withUnsafeBytes { bytes in
                    var plain = Array(bytes)
                    defer { wipe(&plain) }
                    return try AESGCM.sealCombined(
                        plain, key: masterKey.key,
                        associatedData: FileVault.wrapBinding(secret: secret.name, version: version.number))
                }
                try writeVersion(
                    VaultVersionRow(
                        secret: secret.name, version: version.number, createdAt: version.createdAt,
                        enabled: version.enabled, masterKeyID: keyID, wrappedKey: wrapped),
                    in: db, inserting: true)
            }
        }
    }

    // MARK: - The mark's row

    /// The mark, its row checked; nil without one (or on an older schema a read-only session reads as is).
    func loadStateMark(in db: PostgresConnection) throws -> StateMark? {
        let table = try db.query(
            "SELECT to_regclass('vault_state_mark') IS NOT NULL", purpose: "find the state mark")
        guard table.count == 1, table.int(0, 0) != 0 else { return nil }
        let rows = try db.query(
            "SELECT kind, peer, copy_id, marked_at, mac FROM vault_state_mark WHERE singleton = 1",
            purpose: "read the state mark")
        guard rows.count == 1 else { return nil }
        let kindText = rows.text(0, 0)
        let peer = rows.text(0, 1), copyID = rows.text(0, 2)
        let markedAt = rows.date(0, 3) ?? Date(timeIntervalSince1970: 0)
        guard
            try rowMAC.matches(
                rows.bytes(0, 4), Self.markTable,
                Self.markFields(kind: kindText, peer: peer, copyID: copyID, markedAt: markedAt)),
            let kind = StateMark.Kind(rawValue: kindText)
        else {
            throw VaultError.corrupt(file: tableItem(Self.markTable), detail: "its row \(Self.changedOutside)")
        }
        return StateMark(kind: kind, peer: peer, copyID: copyID, markedAt: markedAt)
    }

    /// Writes the mark's row with its MAC (the caller removed any other).
    func writeStateMark(_ mark: StateMark, in db: PostgresConnection, under key: PostgresVaultRowMAC? = nil) throws {
        let markedAt = Date(timeIntervalSince1970: TimeInterval(millis(mark.markedAt)) / 1000)
        let mac = try (key ?? rowMAC).mac(
            Self.markTable,
            Self.markFields(kind: mark.kind.rawValue, peer: mark.peer, copyID: mark.copyID, markedAt: markedAt))
        try db.query(
            """
            INSERT INTO vault_state_mark (singleton, kind, peer, copy_id, marked_at, mac) VALUES (1, $1, $2, $3, $4, $5)
            ON CONFLICT (singleton) DO UPDATE SET kind = EXCLUDED.kind, peer = EXCLUDED.peer, copy_id = EXCLUDED.copy_id,
                marked_at = EXCLUDED.marked_at, mac = EXCLUDED.mac
            """,
            [.text(mark.kind.rawValue), .text(mark.peer), .text(mark.copyID), .time(markedAt), .bytea(mac)],
            purpose: "set the state mark")
    }

    /// Throws the mark's refusal when the vault is frozen or moved (within the change's transaction).
    func requireUnmarkedForChange(in db: PostgresConnection) throws {
        guard let mark = try loadStateMark(in: db), mark.kind != .receiving else { return }
        throw mark.refusal(at: location)
    }

    static let markTable = "vault_state_mark"

    static func markFields(kind: String, peer: String, copyID: String, markedAt: Date) -> [PostgresVaultRowMAC.Field] {
        [.text(kind), .text(peer), .text(copyID), .int(millis(markedAt))]
    }
}

import Crypto
import Foundation
import Support

/// `state copy` on a ``FileVault``: the mark in `vault.json` (under the file's MAC) and the export and
/// import of whole secrets, version numbers kept.
extension FileVault {
    /// The mark in `vault.json`, read now.
    public func stateMark() throws -> StateMark? {
        try loadManifest().mark
    }

    /// Sets or clears the mark in `vault.json`. Needs every permission; audited.
    public func setStateMark(_ mark: StateMark?) throws {
        let operation = mark.map { "mark state \($0.kind.rawValue) (\($0.peer))" } ?? "clear state mark"
        try mutating(operation, secret: nil, permissions: Set(VaultPermission.allCases), ignoringMark: true) {
            var manifest = try loadManifest()
            manifest.mark = mark
            try VaultFileCodec.write(manifest, to: manifestPath, macKey: macKey, keyID: keyID)
        }
    }

    /// One secret, live or soft-deleted, every version's key unwrapped in memory. Needs `get`; audited.
    public func exportSecret(_ name: String) throws -> ExportedSecret {
        try reading("export secret", secret: name, permission: .get) {
            let file = try loadSecret(name)
            return ExportedSecret(
                name: file.name, createdAt: file.createdAt,
                versions: try file.versions.map {
                    ExportedSecret.Version(
                        number: $0.version, createdAt: $0.createdAt, enabled: $0.enabled,
                        key: try unwrap($0, secret: name))
                },
                deletion: file.deleted.map {
                    DeletedSecret(name: name, deletedAt: $0.deletedAt, scheduledPurgeAt: $0.scheduledPurgeAt)
                })
        }
    }

    /// Writes a secret exactly as exported, each key wrapped under this vault's master key, replacing a
    /// secret file of that name. Needs every permission; audited.
    public func importSecret(_ secret: ExportedSecret) throws {
        try mutating("import secret", secret: secret.name, permissions: Set(VaultPermission.allCases)) {
            let file = SecretFile(
                name: secret.name, createdAt: secret.createdAt,
                versions: try secret.versions.sorted { $0.number < $1.number }.map {
                    SecretFile.Version(
                        version: $0.number, createdAt: $0.createdAt, enabled: $0.enabled, masterKeyId: keyID,
                        wrappedKey: try wrap($0.key, secret: secret.name, version: $0.number))
                },
                deleted: secret.deletion.map {
                    SecretFile.Deletion(deletedAt: $0.deletedAt, scheduledPurgeAt: $0.scheduledPurgeAt)
                })
            try saveSecret(file)
        }
    }

    /// Throws the mark's refusal when the vault is frozen or moved: called holding the write lock by every
    /// change but ``setStateMark(_:)``.
    func requireUnmarkedForChange() throws {
        guard let mark = try loadManifest().mark, mark.kind != .receiving else { return }
        throw mark.refusal(at: path)
    }
}

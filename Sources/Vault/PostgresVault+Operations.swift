import Crypto
import Foundation
import PostgresClient

/// The ``KeyVault`` calls of ``PostgresVault``, with ``FileVault``'s semantics call for call.

extension PostgresVault {
    public func createSecret(_ name: String) throws -> SecretVersion {
        try SecretName.validate(name)
        return try mutating("create secret", secret: name, permission: .set) { db in
            let now = now()
            var secret = VaultSecretRow(name: name, createdAt: now, lastVersion: 0)
            let inserted = try db.query(
                """
                INSERT INTO vault_secrets (\(VaultSecretRow.columns), mac) VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT (name) DO NOTHING
                """,
                secret.values + [.bytea(try rowMAC.mac(VaultSecretRow.table, secret.macFields))],
                purpose: "create a secret")
            guard inserted.changes == 1 else {
                let existing = try loadSecret(name, in: db)
                throw existing?.secret.deletedAt == nil ? VaultError.secretExists(name) : VaultError.secretDeleted(name)
            }
            return try appendVersion(to: &secret, now: now, in: db)
        }
    }

    public func addVersion(to name: String) throws -> SecretVersion {
        try mutating("add version", secret: name, permission: .set) { db in
            var secret = try requireLiveSecret(name, in: db, forUpdate: true).secret
            return try appendVersion(to: &secret, now: now(), in: db)
        }
    }

    public func secrets() throws -> [SecretSummary] {
        try reading("list secrets", secret: nil, permission: .list) { db in
            try allSecrets(in: db).filter { $0.secret.deletedAt == nil }.map {
                SecretSummary(
                    name: $0.secret.name, createdAt: $0.secret.createdAt, latestVersion: $0.versions.last?.version ?? 0,
                    versionCount: $0.versions.count)
            }
        }
    }

    public func secretNames() throws -> [String] {
        try reading("list secret names", secret: nil, permission: .list) { db in
            let rows = try db.query("SELECT name FROM vault_secrets ORDER BY name", purpose: "list the secret names")
            return (0..<rows.count).map { rows.text($0, 0) }
        }
    }

    public func versions(of name: String) throws -> [SecretVersion] {
        try reading("list versions", secret: name, permission: .list) { db in
            try requireLiveSecret(name, in: db).versions.map(\.summary)
        }
    }

    public func dataKey(secret: String, version: Int) throws -> SymmetricKey {
        try reading("get key", secret: secret, version: version, permission: .get) { db in
            guard let entry = try requireLiveSecret(secret, in: db).versions.first(where: { $0.version == version })
            else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            return try unwrap(entry)
        }
    }

    public func latestDataKey(secret: String) throws -> (version: Int, key: SymmetricKey) {
        try reading("get latest key", secret: secret, permission: .get) { db in
            let versions = try requireLiveSecret(secret, in: db).versions
            guard let entry = versions.last(where: \.enabled) else {
                throw VaultError.versionNotFound(secret: secret, version: versions.last?.version ?? 0)
            }
            return (entry.version, try unwrap(entry))
        }
    }

    public func disableVersion(secret: String, version: Int) throws {
        try mutating("disable version", secret: secret, version: version, permission: .set) { db in
            let versions = try requireLiveSecret(secret, in: db, forUpdate: true).versions
            guard var entry = versions.first(where: { $0.version == version }) else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            guard version != versions.last?.version else {
                throw VaultError.latestVersion(secret: secret, version: version)
            }
            guard entry.enabled else { return }
            entry.enabled = false
            try writeVersion(entry, in: db)
        }
    }

    public func purgeVersion(secret: String, version: Int, servingStore storeID: String) throws {
        try mutating("purge version", secret: secret, version: version, permission: .purge) { db in
            try requireServing(storeID, in: db)
            let versions = try requireLiveSecret(secret, in: db, forUpdate: true).versions
            guard let entry = versions.first(where: { $0.version == version }) else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            guard version != versions.last?.version else {
                throw VaultError.versionNotPurgeable(
                    secret: secret, version: version, reason: "it is the latest version")
            }
            guard !entry.enabled else {
                throw VaultError.versionNotPurgeable(secret: secret, version: version, reason: "it is still enabled")
            }
            try db.query(
                "DELETE FROM vault_versions WHERE secret = $1 AND version = $2",
                [.text(secret), .int4(Int32(version))],
                purpose: "purge a version")
        }
    }

    public func deleteSecret(_ name: String) throws {
        try mutating("delete secret", secret: name, permission: .delete) { db in
            var secret = try requireSecret(name, in: db, forUpdate: true).secret
            guard secret.deletedAt == nil else { throw VaultError.secretDeleted(name) }
            let now = now()
            secret.deletedAt = now
            secret.purgeAt = now.addingTimeInterval(TimeInterval(retentionDays) * 86_400)
            try writeSecret(secret, in: db)
        }
    }

    public func recoverSecret(_ name: String) throws {
        try mutating("recover secret", secret: name, permission: .recover) { db in
            var secret = try requireSecret(name, in: db, forUpdate: true).secret
            guard secret.deletedAt != nil else { throw VaultError.secretNotDeleted(name) }
            secret.deletedAt = nil
            secret.purgeAt = nil
            try writeSecret(secret, in: db)
        }
    }

    public func purgeSecret(_ name: String) throws {
        try mutating("purge secret", secret: name, permission: .purge) { db in
            let secret = try requireSecret(name, in: db, forUpdate: true).secret
            guard secret.deletedAt != nil else { throw VaultError.secretNotDeleted(name) }
            // The versions go with it (ON DELETE CASCADE).
            try db.query("DELETE FROM vault_secrets WHERE name = $1", [.text(name)], purpose: "purge a secret")
        }
    }

    public func deletedSecrets() throws -> [DeletedSecret] {
        try reading("list deleted secrets", secret: nil, permission: .list) { db in
            try allSecrets(in: db).compactMap { found in
                guard let deletedAt = found.secret.deletedAt else { return nil }
                return DeletedSecret(
                    name: found.secret.name, deletedAt: deletedAt, scheduledPurgeAt: found.secret.purgeAt ?? deletedAt)
            }
        }
    }

    public func setPolicy(for principal: String, permissions: Set<VaultPermission>) throws {
        try mutating("set policy for \(principal)", secret: nil, permissions: Set(VaultPermission.allCases)) { db in
            try writePolicy(for: principal, permissions: permissions, in: db)
        }
    }

    public func removePolicy(for principal: String) throws {
        try mutating("remove policy for \(principal)", secret: nil, permissions: Set(VaultPermission.allCases)) { db in
            _ = try db.query(
                "DELETE FROM vault_policies WHERE principal = $1", [.text(principal)], purpose: "remove a policy")
        }
    }

    public func policies() throws -> [AccessPolicy] {
        try reading("list policies", secret: nil, permission: .list) { db in try loadPolicies(in: db) }
    }

    /// Where a secret stands: live, soft-deleted or absent. Needs `list`.
    public func secretState(_ name: String) throws -> SecretState {
        try reading("secret state", secret: name, permission: .list) { db in
            guard let found = try loadSecret(name, in: db) else { return .absent }
            return found.secret.deletedAt == nil ? .active : .softDeleted
        }
    }

    /// Checks that the principal holds `permission` (for operations that are not vault calls themselves).
    public func requirePermission(_ permission: VaultPermission, operation: String = "read the audit log") throws {
        try reading(operation, secret: nil, permission: permission) { _ in }
    }

    /// Purges every soft-deleted secret whose purge date has passed. Needs `purge` (only), even when nothing is
    /// overdue; refused on a read-only vault. Returns their names.
    public func purgeOverdue() throws -> [String] {
        let operation = "purge overdue secrets"
        guard !isReadOnly else { throw VaultError.readOnly(operation: operation) }
        let overdue = try reading(operation, secret: nil, permission: .purge) { db in
            let now = now()
            return try allSecrets(in: db).filter { $0.secret.purgeAt.map { $0 <= now } ?? false }.map(\.secret.name)
        }
        for name in overdue { try purgeSecret(name) }
        return overdue
    }
}

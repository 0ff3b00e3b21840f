import Crypto
import Foundation
import PostgresClient
import Support

/// Permission checks, auditing, transactions and the rows behind ``PostgresVault``'s operations.

extension PostgresVault {
    /// Runs a read after checking `permission`; audits it unless the vault is read-only.
    func reading<T>(
        _ operation: String, secret: String?, version: Int? = nil, permission: VaultPermission,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        if let secret { try SecretName.validate(secret) }
        return try withSession { db in
            try check([permission], operation: operation, secret: secret, version: version, in: db)
            do {
                let result = try body(db)
                try auditIfWritable(operation, secret: secret, version: version, outcome: "ok", in: db)
                return result
            } catch {
                try? auditIfWritable(operation, secret: secret, version: version, outcome: "error", in: db)
                throw error
            }
        }
    }

    /// Runs a change after checking `permission`, in one transaction with its audit entry.
    func mutating<T>(
        _ operation: String, secret: String?, version: Int? = nil, permission: VaultPermission,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        try mutating(operation, secret: secret, version: version, permissions: [permission], body)
    }

    /// Runs a change that needs every permission in `permissions`, in one transaction with its audit
    /// entry; a failed change is audited as `error` after the rollback. The transaction first checks that
    /// the vault is still under this object's master key (a rekey by another session changes it).
    /// - Parameter auditMAC: the MAC key of the change's own audit entry, when the change moves the vault to
    ///   another master key (rekey).
    /// - Parameter ignoringMark: only for ``setStateMark(_:)``; every other change is refused on a frozen vault.
    func mutating<T>(
        _ operation: String, secret: String?, version: Int? = nil, permissions: Set<VaultPermission>,
        auditMAC: PostgresVaultRowMAC? = nil, ignoringMark: Bool = false, _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        if let secret { try SecretName.validate(secret) }
        guard !isReadOnly else { throw VaultError.readOnly(operation: operation) }
        return try withSession { db in
            try check(permissions, operation: operation, secret: secret, version: version, in: db)
            do {
                return try db.transaction(purpose: operation) {
                    try requireCurrentKey(in: db)
                    // A vault `state copy` froze or moved refuses every change but the mark's own.
                    if !ignoringMark { try requireUnmarkedForChange(in: db) }
                    let result = try body(db)
                    try insertAudit(operation, secret: secret, version: version, outcome: "ok", in: db, under: auditMAC)
                    return result
                }
            } catch {
                try? insertAudit(operation, secret: secret, version: version, outcome: "error", in: db)
                throw error
            }
        }
    }

    /// Throws ``VaultError/permissionDenied(principal:permission:operation:secret:)`` for the first missing
    /// permission, audited as `denied`.
    private func check(
        _ permissions: Set<VaultPermission>, operation: String, secret: String?, version: Int?,
        in db: PostgresConnection
    ) throws {
        guard !permissions.isEmpty else { return }
        let granted = try loadPolicy(of: principal, in: db)
        if let missing = permissions.sorted().first(where: { !granted.contains($0) }) {
            try? auditIfWritable(operation, secret: secret, version: version, outcome: "denied", in: db)
            throw VaultError.permissionDenied(
                principal: principal, permission: missing, operation: operation, secret: secret)
        }
    }

    /// Writes one audit entry (in the caller's transaction, if any), MAC'd under `mac` (this vault's by default).
    func insertAudit(
        _ operation: String, secret: String?, version: Int?, outcome: String, in db: PostgresConnection,
        under mac: PostgresVaultRowMAC? = nil
    ) throws {
        let entry = AuditLog.Entry(
            time: now(), principal: principal, operation: operation, secret: secret, version: version,
            outcome: outcome)
        try db.query(
            """
            INSERT INTO vault_audit (at, principal, operation, secret, version, outcome, mac)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """,
            [
                .time(entry.time), .text(principal), .text(operation), .text(secret),
                version.map { .int4(Int32(clamping: $0)) } ?? .null(oid: PostgresValue.Oid.int4), .text(outcome),
                .bytea(try (mac ?? rowMAC).mac(AuditLog.Entry.table, entry.macFields)),
            ], purpose: "write the vault audit log")
    }

    private func auditIfWritable(
        _ operation: String, secret: String?, version: Int?, outcome: String, in db: PostgresConnection
    ) throws {
        guard !isReadOnly else { return }
        try insertAudit(operation, secret: secret, version: version, outcome: outcome, in: db)
    }

    // MARK: - Integrity

    /// Where a table's rows are, for messages.
    func tableItem(_ table: String) -> String { "\(location) table \(table)" }

    /// The detail of a row whose MAC does not match.
    static let changedOutside = "does not match its MAC (changed outside tokenkeeper, or by another master key)"

    // MARK: - Meta and policies

    /// Throws ``VaultError/corrupt(file:detail:)`` unless `mac` is `meta`'s.
    func checkMeta(_ meta: VaultMetaRow, mac: [UInt8]?) throws {
        guard try rowMAC.matches(mac, VaultMetaRow.table, meta.macFields) else {
            throw VaultError.corrupt(file: tableItem(VaultMetaRow.table), detail: "its row \(Self.changedOutside)")
        }
    }

    /// The `vault_meta` row, checked, locked with `locking` (`FOR NO KEY UPDATE` to change the binding,
    /// `FOR UPDATE` to rekey, which also waits for every change under way: ``requireCurrentKey(in:)``).
    func loadMeta(in db: PostgresConnection, locking: String = "") throws -> VaultMetaRow {
        let rows = try db.query(
            "SELECT \(VaultMetaRow.columns), mac FROM vault_meta WHERE singleton = 1 \(locking)",
            purpose: "read the vault")
        guard rows.count == 1 else { throw VaultError.notAVault(path: location) }
        let meta = VaultMetaRow(rows, 0)
        try checkMeta(meta, mac: rows.bytes(0, 7))
        return meta
    }

    /// Throws ``VaultError/wrongMasterKey(vault:)`` unless the vault is still under this object's master key;
    /// holds `FOR KEY SHARE` on `vault_meta` until the transaction ends, so a rekey (`FOR UPDATE`) waits for
    /// the change under way, and a change waits for a rekey under way and then sees the new key.
    func requireCurrentKey(in db: PostgresConnection) throws {
        let rows = try db.query(
            "SELECT master_key_id FROM vault_meta WHERE singleton = 1 FOR KEY SHARE", purpose: "check the master key")
        guard rows.count == 1 else { throw VaultError.notAVault(path: location) }
        guard rows.text(0, 0) == keyID else { throw VaultError.wrongMasterKey(vault: location) }
    }

    /// Writes the `vault_meta` row with its MAC.
    func writeMeta(
        _ meta: VaultMetaRow, in db: PostgresConnection, inserting: Bool = false, under key: PostgresVaultRowMAC? = nil
    ) throws {
        let mac = PostgresValue.bytea(try (key ?? rowMAC).mac(VaultMetaRow.table, meta.macFields))
        if inserting {
            try db.query(
                "INSERT INTO vault_meta (singleton, \(VaultMetaRow.columns), mac) VALUES (1, $1, $2, $3, $4, $5, $6, $7, $8)",
                meta.values + [mac], purpose: "write the vault")
        } else {
            try db.query(
                """
                UPDATE vault_meta SET format = $1, created_at = $2, retention_days = $3, master_key_id = $4, store_id = $5,
                    store_held_tokens = $6, store_bound_at = $7, mac = $8 WHERE singleton = 1
                """, meta.values + [mac], purpose: "write the vault")
        }
    }

    /// Every policy, each row checked.
    func loadPolicies(in db: PostgresConnection) throws -> [AccessPolicy] {
        let rows = try db.query(
            "SELECT principal, permissions, mac FROM vault_policies ORDER BY principal", purpose: "read the policies")
        return try (0..<rows.count).map { index in
            let principal = rows.text(index, 0)
            return AccessPolicy(
                principal: principal,
                permissions: try checkedPolicy(
                    principal: principal, permissions: rows.text(index, 1), mac: rows.bytes(index, 2)))
        }
    }

    /// One principal's permissions (none without a policy), its row checked.
    func loadPolicy(of principal: String, in db: PostgresConnection) throws -> Set<VaultPermission> {
        let rows = try db.query(
            "SELECT permissions, mac FROM vault_policies WHERE principal = $1", [.text(principal)],
            purpose: "read the policy")
        guard rows.count == 1 else { return [] }
        return try checkedPolicy(principal: principal, permissions: rows.text(0, 0), mac: rows.bytes(0, 1))
    }

    private func checkedPolicy(principal: String, permissions: String, mac: [UInt8]?) throws -> Set<VaultPermission> {
        let item = tableItem(VaultPolicyRow.table)
        guard
            try rowMAC.matches(
                mac, VaultPolicyRow.table, VaultPolicyRow.macFields(principal: principal, permissions: permissions))
        else {
            throw VaultError.corrupt(
                file: item, detail: "the policy of principal '\(principal)' \(Self.changedOutside)")
        }
        let names = permissions.split(separator: ",").map(String.init)
        let parsed = names.compactMap(VaultPermission.init(rawValue:))
        guard parsed.count == names.count else {
            throw VaultError.corrupt(
                file: item, detail: "the policy of principal '\(principal)' names an unknown permission")
        }
        return Set(parsed)
    }

    /// Sets a principal's policy (replacing any) with its MAC.
    func writePolicy(
        for principal: String, permissions: Set<VaultPermission>, in db: PostgresConnection,
        under key: PostgresVaultRowMAC? = nil
    ) throws {
        let text = VaultPolicyRow.text(permissions)
        let mac = try (key ?? rowMAC).mac(
            VaultPolicyRow.table, VaultPolicyRow.macFields(principal: principal, permissions: text))
        try db.query(
            """
            INSERT INTO vault_policies (principal, permissions, mac) VALUES ($1, $2, $3)
            ON CONFLICT (principal) DO UPDATE SET permissions = EXCLUDED.permissions, mac = EXCLUDED.mac
            """, [.text(principal), .text(text), .bytea(mac)], purpose: "write a policy")
    }

    // MARK: - Secrets and versions

    /// A secret's row and its versions in ascending order, every row checked; nil when there is no such
    /// secret. The secret's row is locked until the transaction ends when `forUpdate`.
    func loadSecret(_ name: String, in db: PostgresConnection, forUpdate: Bool = false) throws -> (
        secret: VaultSecretRow, versions: [VaultVersionRow]
    )? {
        let rows = try db.query(
            "SELECT \(VaultSecretRow.columns), mac FROM vault_secrets WHERE name = $1"
                + (forUpdate ? " FOR UPDATE" : ""),
            [.text(name)], purpose: "read a secret")
        guard rows.count == 1 else { return nil }
        let secret = VaultSecretRow(rows, 0)
        guard try rowMAC.matches(rows.bytes(0, 5), VaultSecretRow.table, secret.macFields) else {
            throw corruptSecret(name, table: VaultSecretRow.table, detail: "its row \(Self.changedOutside)")
        }
        let versionRows = try db.query(
            "SELECT \(VaultVersionRow.columns), mac FROM vault_versions WHERE secret = $1 ORDER BY version",
            [.text(name)], purpose: "read a secret's versions")
        let versions = try (0..<versionRows.count).map { index in
            let version = VaultVersionRow(versionRows, index)
            try checkVersion(version, mac: versionRows.bytes(index, 6))
            return version
        }
        try checkVersions(versions, of: secret)
        return (secret, versions)
    }

    /// Throws unless `mac` is the version row's.
    func checkVersion(_ version: VaultVersionRow, mac: [UInt8]?) throws {
        guard try rowMAC.matches(mac, VaultVersionRow.table, version.macFields) else {
            throw corruptSecret(
                version.secret, table: VaultVersionRow.table,
                detail: "the row of version \(version.version) \(Self.changedOutside)")
        }
    }

    /// Throws unless the secret's newest version is the last one it gave (a deleted newest row is noticed).
    func checkVersions(_ versions: [VaultVersionRow], of secret: VaultSecretRow) throws {
        guard versions.last?.version == secret.lastVersion else {
            throw corruptSecret(
                secret.name, table: VaultVersionRow.table,
                detail: "the row of its latest version \(secret.lastVersion) is missing")
        }
    }

    /// ``loadSecret(_:in:forUpdate:)``, throwing ``VaultError/secretNotFound(_:)`` for a missing secret.
    func requireSecret(_ name: String, in db: PostgresConnection, forUpdate: Bool = false) throws -> (
        secret: VaultSecretRow, versions: [VaultVersionRow]
    ) {
        guard let found = try loadSecret(name, in: db, forUpdate: forUpdate) else {
            throw VaultError.secretNotFound(name)
        }
        return found
    }

    /// ``requireSecret(_:in:forUpdate:)``, throwing ``VaultError/secretDeleted(_:)`` for a soft-deleted secret.
    func requireLiveSecret(_ name: String, in db: PostgresConnection, forUpdate: Bool = false) throws -> (
        secret: VaultSecretRow, versions: [VaultVersionRow]
    ) {
        let found = try requireSecret(name, in: db, forUpdate: forUpdate)
        guard found.secret.deletedAt == nil else { throw VaultError.secretDeleted(name) }
        return found
    }

    /// Every secret's row with its versions, every row checked, by name.
    func allSecrets(in db: PostgresConnection) throws -> [(secret: VaultSecretRow, versions: [VaultVersionRow])] {
        let rows = try db.query(
            "SELECT \(VaultSecretRow.columns), mac FROM vault_secrets ORDER BY name", purpose: "read the secrets")
        let versionRows = try db.query(
            "SELECT \(VaultVersionRow.columns), mac FROM vault_versions ORDER BY secret, version",
            purpose: "read the versions")
        var versions: [String: [VaultVersionRow]] = [:]
        for index in 0..<versionRows.count {
            let version = VaultVersionRow(versionRows, index)
            try checkVersion(version, mac: versionRows.bytes(index, 6))
            versions[version.secret, default: []].append(version)
        }
        return try (0..<rows.count).map { index in
            let secret = VaultSecretRow(rows, index)
            guard try rowMAC.matches(rows.bytes(index, 5), VaultSecretRow.table, secret.macFields) else {
                throw corruptSecret(secret.name, table: VaultSecretRow.table, detail: "its row \(Self.changedOutside)")
            }
            let list = versions[secret.name] ?? []
            try checkVersions(list, of: secret)
            return (secret, list)
        }
    }

    /// Writes a secret's row with its MAC (inserting it when `inserting`).
    func writeSecret(
        _ secret: VaultSecretRow, in db: PostgresConnection, inserting: Bool = false,
        under key: PostgresVaultRowMAC? = nil
    ) throws {
        let mac = PostgresValue.bytea(try (key ?? rowMAC).mac(VaultSecretRow.table, secret.macFields))
        if inserting {
            try db.query(
                "INSERT INTO vault_secrets (\(VaultSecretRow.columns), mac) VALUES ($1, $2, $3, $4, $5, $6)",
                secret.values + [mac], purpose: "write a secret")
        } else {
            try db.query(
                "UPDATE vault_secrets SET created_at = $2, last_version = $3, deleted_at = $4, purge_at = $5, mac = $6 WHERE name = $1",
                secret.values + [mac], purpose: "write a secret")
        }
    }

    /// Writes a version's row with its MAC (inserting it when `inserting`).
    func writeVersion(
        _ version: VaultVersionRow, in db: PostgresConnection, inserting: Bool = false,
        under key: PostgresVaultRowMAC? = nil
    ) throws {
        let mac = PostgresValue.bytea(try (key ?? rowMAC).mac(VaultVersionRow.table, version.macFields))
        if inserting {
            try db.query(
                "INSERT INTO vault_versions (\(VaultVersionRow.columns), mac) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                version.values + [mac], purpose: "write a version")
        } else {
            try db.query(
                """
                UPDATE vault_versions SET created_at = $3, enabled = $4, master_key_id = $5, wrapped_key = $6, mac = $7
                WHERE secret = $1 AND version = $2
                """, version.values + [mac], purpose: "write a version")
        }
    }

    /// Adds version `lastVersion + 1` to `secret` (whose row the caller holds locked or just inserted) with a
    /// fresh random data key wrapped under the master key, as the file vault wraps it; updates the secret's row.
    func appendVersion(to secret: inout VaultSecretRow, now: Date, in db: PostgresConnection) throws -> SecretVersion {
        let number = secret.lastVersion + 1
        let dataKey = try SymmetricKey.random()
        let wrapped = try dataKey.withUnsafeBytes { bytes in
            try AESGCM.sealCombined(
                Array(bytes), key: masterKey.key,
                associatedData: FileVault.wrapBinding(secret: secret.name, version: number))
        }
        secret.lastVersion = number
        try writeSecret(secret, in: db)
        let version = VaultVersionRow(
            secret: secret.name, version: number, createdAt: now, enabled: true, masterKeyID: keyID,
            wrappedKey: wrapped)
        try writeVersion(version, in: db, inserting: true)
        return version.summary
    }

    /// Unwraps a version's data key with the master key.
    func unwrap(_ version: VaultVersionRow) throws -> SymmetricKey {
        do {
            var bytes = try AESGCM.open(
                combined: version.wrappedKey, key: masterKey.key,
                associatedData: FileVault.wrapBinding(secret: version.secret, version: version.version))
            defer { wipe(&bytes) }
            return try SymmetricKey(bytes: bytes)
        } catch {
            throw corruptSecret(
                version.secret, table: VaultVersionRow.table,
                detail: "version \(version.version)'s wrapped key does not open")
        }
    }

    /// A damaged secret: its tokens fail, nothing else.
    func corruptSecret(_ name: String, table: String, detail: String) -> VaultError {
        .corruptSecret(name: name, file: tableItem(table), detail: detail)
    }
}

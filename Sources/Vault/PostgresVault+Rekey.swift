import Crypto
import Foundation
import PostgresClient
import Support

/// `rekey` for ``PostgresVault``: every data key rewrapped and every row MAC'd again under a new master
/// key, in one transaction, so the vault is wholly under the old key or wholly under the new one whatever
/// happens (no journal, nothing to resume).
extension PostgresVault {
    /// Audit rows re-MAC'd per statement.
    static let rekeyBatch = 1_000

    /// Rewraps every version of every secret (soft-deleted ones included) under `newMasterKey` and MACs
    /// every row again with a key derived from it; audit entries are checked under the old key first. Needs
    /// every permission; refused on a read-only vault.
    ///
    /// Afterwards only the new key opens the vault. Other sessions still holding the old key (this object
    /// included) are refused every call with ``VaultError/wrongMasterKey(vault:)`` (a change under way when
    /// the rekey starts finishes first): stop the jobs and hosts that use the vault, rekey, and start them
    /// with the new key.
    /// - throws: ``VaultError/corruptSecret(name:file:detail:)`` or ``VaultError/corrupt(file:detail:)`` for a
    ///   row that does not match its MAC (nothing is changed then), ``PostgresError``.
    public func rekey(to newMasterKey: MasterKey) throws {
        let newKeyID = try newMasterKey.identifier
        guard newKeyID != keyID else { return }
        let newMAC = try PostgresVaultRowMAC(masterKey: newMasterKey)
        try mutating("rekey", secret: nil, permissions: Set(VaultPermission.allCases), auditMAC: newMAC) { db in
            var meta = try loadMeta(in: db, locking: "FOR UPDATE")
            for (secret, versions) in try allSecrets(in: db) {
                try writeSecret(secret, in: db, under: newMAC)
                for var version in versions {
                    let key = try unwrap(version)
                    version.wrappedKey = try key.withUnsafeBytes { bytes in
                        try AESGCM.sealCombined(
                            Array(bytes), key: newMasterKey.key,
                            associatedData: FileVault.wrapBinding(secret: version.secret, version: version.version))
                    }
                    version.masterKeyID = newKeyID
                    try writeVersion(version, in: db, under: newMAC)
                }
            }
            for policy in try loadPolicies(in: db) {
                try writePolicy(for: policy.principal, permissions: policy.permissions, in: db, under: newMAC)
            }
            try rekeyAuditLog(in: db, under: newMAC)
            if let mark = try loadStateMark(in: db) { try writeStateMark(mark, in: db, under: newMAC) }
            meta.masterKeyID = newKeyID
            try writeMeta(meta, in: db, under: newMAC)
        }
    }

    /// Checks every audit entry under the current key and MACs it again under `newMAC`, a batch at a time.
    private func rekeyAuditLog(in db: PostgresConnection, under newMAC: PostgresVaultRowMAC) throws {
        var after: Int64 = 0
        while true {
            let rows = try db.query(
                """
                SELECT \(Self.auditColumns) FROM vault_audit WHERE id > $1 ORDER BY id LIMIT $2
                """, [.int8(after), .int8(Int64(Self.rekeyBatch))], purpose: "read the audit log")
            guard rows.count > 0 else { return }
            var ids: [Int64] = [], macs: [[UInt8]] = []
            for index in 0..<rows.count {
                let entry = try checkedAuditEntry(rows, index)
                ids.append(rows.int(index, 0))
                macs.append(try newMAC.mac(AuditLog.Entry.table, entry.macFields))
            }
            try db.query(
                "UPDATE vault_audit SET mac = moved.mac FROM unnest($1::bigint[], $2::bytea[]) AS moved (id, mac) WHERE vault_audit.id = moved.id",
                [.int8Array(ids), .byteaArray(macs)], purpose: "rekey the audit log")
            after = ids.last ?? after
        }
    }
}

import Foundation
import PostgresClient

/// The audit log of a ``PostgresVault``, the `vault_audit` table, read back as the file vault's lines.
extension PostgresVault {
    /// The last `count` entries of the audit log (who did what; never a value), oldest first, each as the
    /// JSON line ``FileVault``'s `audit.log` holds. Needs `list` (the check itself is audited).
    /// - throws: ``VaultError/corrupt(file:detail:)`` naming the first entry whose row does not match its MAC.
    public func auditEntries(last count: Int) throws -> [String] {
        try requirePermission(.list, operation: "read the audit log")
        return try withSession { db in
            let rows = try db.query(
                """
                SELECT \(Self.auditColumns) FROM (SELECT * FROM vault_audit ORDER BY id DESC LIMIT $1) AS last
                ORDER BY id
                """, [.int8(Int64(max(0, count)))], purpose: "read the audit log")
            return try (0..<rows.count).map { index in
                String(decoding: try VaultFileCodec.encoder.encode(try checkedAuditEntry(rows, index)), as: UTF8.self)
            }
        }
    }

    /// The columns ``checkedAuditEntry(_:_:)`` reads, in order.
    static let auditColumns = "id, at, principal, operation, secret, version, outcome, mac"

    /// Row `index` of a query selecting ``auditColumns``, its MAC checked.
    /// - throws: ``VaultError/corrupt(file:detail:)`` naming the entry by its id.
    func checkedAuditEntry(_ rows: PostgresRows, _ index: Int) throws -> AuditLog.Entry {
        let entry = AuditLog.Entry(
            time: rows.date(index, 1) ?? Date(timeIntervalSince1970: 0), principal: rows.text(index, 2),
            operation: rows.text(index, 3), secret: rows.optionalText(index, 4),
            version: rows.optionalInt(index, 5).map { Int($0) }, outcome: rows.text(index, 6))
        guard try rowMAC.matches(rows.bytes(index, 7), AuditLog.Entry.table, entry.macFields) else {
            throw VaultError.corrupt(
                file: tableItem(AuditLog.Entry.table), detail: "entry \(rows.int(index, 0)) \(Self.changedOutside)")
        }
        return entry
    }
}

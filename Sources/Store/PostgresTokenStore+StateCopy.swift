import Foundation
import PostgresClient
import Support

/// `state copy` on the PostgreSQL store: the mark (schema migration 3) and the whole-row copy.
extension PostgresTokenStore {
    /// The mark in `state_mark`, read now.
    public func stateMark() throws -> StateMark? {
        let rows = try connection.query(
            "SELECT kind, peer, copy_id, marked_at FROM state_mark WHERE singleton = 1", purpose: "read the state mark")
        guard rows.count > 0 else { return nil }
        return StateMark(
            kind: StateMark.Kind(rawValue: rows.text(0, 0)) ?? .frozen, peer: rows.text(0, 1),
            copyID: rows.text(0, 2), markedAt: rows.date(0, 3) ?? Date(timeIntervalSince1970: 0))
    }

    /// Sets or clears the mark in one transaction. It first takes the mark gate exclusively, so it waits for
    /// every writer that has checked the store unmarked to commit, and no writer checks meanwhile: a write
    /// is either committed before the mark (and seen by the copy) or sees the mark and is refused.
    public func setStateMark(_ mark: StateMark?) throws {
        try connection.transaction(purpose: "set the state mark") {
            try connection.query(
                "SELECT pg_advisory_xact_lock($1)", [.int8(Self.markGate)], purpose: "close the mark gate")
            try connection.query("DELETE FROM state_mark", purpose: "clear the state mark")
            guard let mark else { return }
            try connection.query(
                "INSERT INTO state_mark (singleton, kind, peer, copy_id, marked_at) VALUES (1, $1, $2, $3, $4)",
                [.text(mark.kind.rawValue), .text(mark.peer), .text(mark.copyID), .time(mark.markedAt)],
                purpose: "set the state mark")
        }
    }

    /// Rows whose lease ends after `now`, by the store's clock.
    public func liveLeaseCount(now: Date) throws -> Int {
        Int(
            try connection.query(
                "SELECT count(*) FROM tokens WHERE lease_until > \(self.now(1))", [.time(now)],
                purpose: "count live leases"
            ).int(0, 0))
    }

    /// Up to `limit` whole rows after `after`, in key order (`COLLATE "C"`: byte order, as SQLite's), each
    /// with its wrapped data key and that key's version (envelope format) from `token_keys`.
    public func copyRows(after: TokenKey?, limit: Int) throws -> [CopiedTokenRow] {
        let rows: PostgresRows
        if let after {
            rows = try connection.query(
                """
                SELECT \(Self.columns) FROM tokens WHERE (tenant, user_id, provider) > ($1, $2, $3)
                ORDER BY tenant, user_id, provider LIMIT $4
                """, Self.values(after) + [.int8(Int64(limit))], purpose: "read rows to copy")
        } else {
            rows = try connection.query(
                "SELECT \(Self.columns) FROM tokens ORDER BY tenant, user_id, provider LIMIT $1", [.int8(Int64(limit))],
                purpose: "read rows to copy")
        }
        return (0..<rows.count).map { CopiedTokenRow(token: Self.row(rows, $0)) }
    }

    /// Inserts or replaces copied rows, unleased, in one transaction; only while the store is `receiving`.
    @discardableResult
    public func insertCopiedRows(_ rows: [CopiedTokenRow]) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try connection.transaction(purpose: "write copied rows") {
            let mark = try connection.query(
                "SELECT kind FROM state_mark WHERE singleton = 1 FOR SHARE", purpose: "check the state mark")
            guard mark.count > 0, mark.text(0, 0) == StateMark.Kind.receiving.rawValue else {
                throw StoreError.notReceiving(path: location)
            }
            let tokens = rows.map(\.unleased)
            for token in tokens { try upsert(token) }
            // The data keys in the same transaction (token_keys' triggers count envelope rows, the tokens'
            // the old-format ones); an old-format row keeps none.
            try writeDataKeys(of: tokens)
            return rows.count
        }
    }

    /// Throws the mark's refusal when the store carries one. Call inside the transaction of the write it
    /// guards: it passes the mark gate first (``enterMarkGate()``), so the mark cannot commit between this
    /// check and the write's commit.
    func requireUnmarked() throws {
        try enterMarkGate()
        if let mark = try stateMark() { throw mark.refusal(at: location) }
    }

    /// Takes the mark gate shared until the current transaction ends (a no-op outside one would be useless:
    /// call inside the write's transaction). A statement after it reads with a snapshot taken after any mark
    /// that committed meanwhile, so a statement-level ``unmarked`` condition sees it.
    func enterMarkGate() throws {
        try connection.query(
            "SELECT pg_advisory_xact_lock_shared($1)", [.int8(Self.markGate)], purpose: "pass the mark gate")
    }

    /// The advisory lock key that orders writes against `setStateMark` ("tkstmark").
    static let markGate: Int64 = 0x746b_7374_6d61_726b

    /// The condition a statement that takes a lease or commits after a lost lease adds: no mark.
    static let unmarked = "NOT EXISTS (SELECT 1 FROM state_mark)"
}

import Foundation
import Support

/// `state copy` on the SQLite store: the mark (schema migration 6) and the whole-row copy.
extension SQLiteTokenStore {
    /// The mark in `state_mark`, read now.
    public func stateMark() throws -> StateMark? {
        let statement = try connection.cached(
            "SELECT kind, peer, copy_id, marked_at FROM state_mark WHERE singleton = 1")
        defer { statement.reset() }
        guard try statement.step() else { return nil }
        return StateMark(
            kind: StateMark.Kind(rawValue: statement.text(0)) ?? .frozen, peer: statement.text(1),
            copyID: statement.text(2), markedAt: statement.date(3) ?? Date(timeIntervalSince1970: 0))
    }

    /// Sets or clears the mark in one transaction.
    public func setStateMark(_ mark: StateMark?) throws {
        try connection.writeTransaction {
            try connection.execute("DELETE FROM state_mark")
            guard let mark else { return }
            let statement = try connection.cached(
                "INSERT INTO state_mark (singleton, kind, peer, copy_id, marked_at) VALUES (1, ?1, ?2, ?3, ?4)")
            statement.bind(1, mark.kind.rawValue)
            statement.bind(2, mark.peer)
            statement.bind(3, mark.copyID)
            statement.bind(4, mark.markedAt)
            try statement.run()
        }
    }

    /// Rows whose lease ends after `now`.
    public func liveLeaseCount(now: Date) throws -> Int {
        let statement = try connection.cached("SELECT count(*) FROM tokens WHERE lease_until > ?1")
        defer { statement.reset() }
        statement.bind(1, now)
        return try statement.step() ? Int(statement.int(0)) : 0
    }

    /// Up to `limit` whole rows after `after`, in key order, each with its wrapped data key (envelope format).
    public func copyRows(after: TokenKey?, limit: Int) throws -> [CopiedTokenRow] {
        let statement: SQLiteStatement
        if let after {
            statement = try connection.cached(
                """
                SELECT \(Self.columns) FROM \(Self.joined) WHERE (t.tenant, t.user_id, t.provider) > (?1, ?2, ?3)
                ORDER BY t.tenant, t.user_id, t.provider LIMIT ?4
                """)
            statement.bind(1, after.tenant)
            statement.bind(2, after.user)
            statement.bind(3, after.provider)
        } else {
            statement = try connection.cached(
                "SELECT \(Self.columns) FROM \(Self.joined) ORDER BY t.tenant, t.user_id, t.provider LIMIT ?4")
        }
        defer { statement.reset() }
        statement.bind(4, limit)
        var rows: [CopiedTokenRow] = []
        while try statement.step() { rows.append(CopiedTokenRow(token: Self.row(statement))) }
        return rows
    }

    /// Inserts or replaces copied rows, unleased, in one transaction with their data keys and the per-version
    /// counts (``upsert(_:)`` writes both, for either format); only while the store is `receiving`.
    @discardableResult
    public func insertCopiedRows(_ rows: [CopiedTokenRow]) throws -> Int {
        guard !rows.isEmpty else { return 0 }
        return try connection.writeTransaction {
            guard try stateMark()?.kind == .receiving else { throw StoreError.notReceiving(path: path) }
            for row in rows { try upsert(row.unleased) }
            return rows.count
        }
    }

    /// Throws the mark's refusal when the store carries one. Call inside the write transaction that
    /// would write, so the mark and the write never cross.
    func requireUnmarked() throws {
        if let mark = try stateMark() { throw mark.refusal(at: path) }
    }

    /// On a marked store, lets a refresh commit only while `owner`'s lease on `key` is still live (a refresh
    /// under way when the copy began finishes; the copy waits for it), and never a commit after a lost lease.
    func requireCommitAllowed(_ key: TokenKey, owner: String, afterLostLease: Bool) throws {
        guard let mark = try stateMark() else { return }
        guard !afterLostLease, let row = try get(key), row.leaseOwner == owner,
            let until = row.leaseUntil, until > Date()
        else { throw mark.refusal(at: path) }
    }
}

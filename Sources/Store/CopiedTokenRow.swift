/// One whole row of the token store as `state copy` carries it from one store to another: every column
/// a backend keeps for the row, so the destination holds the same state, token use and refresh pick up
/// where they were, and the per-version counts match.
///
/// - The sealed token travels as stored bytes, never opened: it is bound to tenant, user, provider and
///   key version (I2), never to a row id, so it opens at the destination as it did at the source.
/// - Kept: secret, key version (exactly: the token is bound to it), sealed token, status, failure
///   count, last error code, issued, refreshed, expiry and update times.
/// - Not kept: the row id (each store numbers its own rows), and the lease: a copy starts only once no
///   lease is live at the source (``TokenStore/liveLeaseCount(now:)``), and a lease names a process of
///   the source's hosts, which means nothing at the destination: ``TokenStore/insertCopiedRows(_:)``
///   writes the row unleased.
///
/// Envelope encryption adds its columns here (the wrapped per-token data key and the key version that
/// wraps it), read by ``TokenStore/copyRows(after:limit:)`` and written by ``TokenStore/insertCopiedRows(_:)``.
public struct CopiedTokenRow: Sendable, Equatable {
    /// The row: key, secret, key version, sealed token and bookkeeping (lease fields as read).
    public var token: StoredToken

    /// A copied row.
    public init(token: StoredToken) {
        self.token = token
    }

    /// The row as the destination writes it: no id, no lease.
    public var unleased: StoredToken {
        var row = token
        row.id = 0
        row.leaseOwner = nil
        row.leaseUntil = nil
        return row
    }

    /// Whether `other` holds the same state (every kept column; ids and leases aside).
    public func sameState(as other: CopiedTokenRow) -> Bool {
        unleased == other.unleased
    }
}

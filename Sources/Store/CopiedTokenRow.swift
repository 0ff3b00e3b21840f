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
/// - Envelope encryption: a row in the envelope format carries its wrapped per-token data key
///   (``wrappedKey``, from the store's narrow `token_keys` table) and the key version that wraps it
///   (``keyVersion``); both travel as stored (the data key is never unwrapped for the copy) and
///   ``TokenStore/insertCopiedRows(_:)`` writes the data key's row in the row's transaction. A row in the
///   old format (not yet migrated) has no data key and copies as it is, sealed under ``keyVersion``.
public struct CopiedTokenRow: Sendable, Equatable {
    /// The row: key, secret, key version, sealed token and bookkeeping (lease fields as read).
    public var token: StoredToken

    /// A copied row.
    public init(token: StoredToken) {
        self.token = token
    }

    /// The token's data key wrapped under ``keyVersion`` (envelope format); nil for an old-format row or
    /// one without a token.
    public var wrappedKey: [UInt8]? { token.wrappedKey }

    /// The key version the row's binding names: its data key's wrapping version (envelope format) or the
    /// version that sealed the token (old format).
    public var keyVersion: Int { token.keyVersion }

    /// The row as the destination writes it: no id, no lease (data key and its version kept).
    public var unleased: StoredToken {
        var row = token
        row.id = 0
        row.leaseOwner = nil
        row.leaseUntil = nil
        return row
    }

    /// Whether `other` holds the same state (every kept column, the wrapped data key and its version
    /// included; ids and leases aside).
    public func sameState(as other: CopiedTokenRow) -> Bool {
        unleased == other.unleased
    }
}

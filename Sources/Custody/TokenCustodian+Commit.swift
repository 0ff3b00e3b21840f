import Foundation
import Identity
import Store
import Support

/// How a redeemed token's commit ended (I8).

public enum RefreshCommit: Sendable, Equatable {
    /// Stored while the lease was held.
    case committed
    /// The lease was lost meanwhile, but the row still held the very token this redemption started
    /// from, so the new one was stored in its place (compare-and-set on the sealed token).
    case committedAfterLeaseLost
    /// The lease was lost and another holder changed the row: theirs stays, the provider's answer is
    /// not stored. With a provider that rotates refresh tokens the user may have to sign in again.
    case leaseLost
}

extension TokenCustodian {
    /// The vault secret a row's tokens are sealed with: the tenant's (DESIGN.md: `secretId = tid`). The
    /// one place that decides it, for `token put`, refresh, token use and the benchmark alike.
    public static func secretName(for key: TokenKey) -> String { key.tenant }

    /// Commits what the provider returned for `row` (its new refresh token, or the same one when the
    /// provider does not rotate), sealed under the newest key version, and returns once the commit is
    /// durable against a power cut too (``TokenStore/syncCommits()``): the one I8 commit path of the
    /// refresh stage and of token use. Callers hand the token (or the access token redeemed with it)
    /// on only after it returns.
    ///
    /// - Parameters:
    ///   - row: the row as read when the redemption started (its sealed token is the compare-and-set value).
    ///   - owner: the lease the redemption held.
    ///   - response: the provider's answer.
    ///   - usedToken: the refresh token that was redeemed (kept when the provider returns none).
    ///   - now: the commit time.
    ///   - lock: a lock the caller serializes its store session with (token use); the transaction runs
    ///     under it, the sync outside it, so concurrent commits share one sync.
    /// - Returns: how the commit ended; ``RefreshCommit/leaseLost`` is never silent, callers report it.
    public func commitRedeemed(
        _ row: StoredToken, owner: String, response: TokenGrantResponse, usedToken: SecretText,
        at now: Date, serializedBy lock: NSLock? = nil
    ) async throws -> RefreshCommit {
        let transaction = {
            try self.commitTransaction(row, owner: owner, response: response, usedToken: usedToken, at: now)
        }
        let commit = try lock.map { try $0.withLock(transaction) } ?? transaction()
        if commit != .leaseLost { try await store.syncCommits() }
        return commit
    }

    /// The commit itself, one or two store transactions: under the lease, else compare-and-set on the
    /// token the redemption started from.
    private func commitTransaction(
        _ row: StoredToken, owner: String, response: TokenGrantResponse, usedToken: SecretText,
        at now: Date
    ) throws -> RefreshCommit {
        let key = row.key
        let secret = Self.secretName(for: key)
        let expiresAt = response.refreshTokenExpiresIn.map { now.addingTimeInterval($0) } ?? row.expiresAt
        // Sealed under the newest version as the vault says now, never a version remembered from before: a
        // long-lived process (a web service) must not seal under a version a rotation has since retired (I1).
        // The store refuses to move a row to an older version than it holds (a rotation that rewrapped it
        // meanwhile); then the newest version is read again, once.
        for attempt in 0..<2 {
            forgetLatestVersions()
            let (version, sealed, wrappedKey) = try seal(response.refreshToken ?? usedToken, for: key, secret: secret)
            if try store.commitRefreshed(
                key, owner: owner, secretName: secret, keyVersion: version, sealedToken: sealed,
                wrappedKey: wrappedKey, refreshedAt: now, expiresAt: expiresAt)
            {
                return .committed
            }
            if let startedFrom = row.sealedToken,
                try store.commitRefreshed(
                    key, replacing: startedFrom, owner: owner, secretName: secret, keyVersion: version,
                    sealedToken: sealed, wrappedKey: wrappedKey, refreshedAt: now, expiresAt: expiresAt)
            {
                return .committedAfterLeaseLost
            }
            guard attempt == 0, let current = try store.get(key), current.keyVersion > version else { break }
        }
        return .leaseLost
    }
}

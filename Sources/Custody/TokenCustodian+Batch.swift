import Foundation
import Store
import Support

extension TokenCustodian {
    /// What became of one token of a batch.
    public enum BatchOutcome: Sendable {
        /// Stored: a new row, or one replaced.
        case stored(PutOutcome)
        /// Not stored, and why (never with the token's value).
        case failed(any Error & Sendable)
    }

    /// Seals and stores many tokens as ``put(_:token:issuedAt:expiresAt:)`` does each, writing them in
    /// one store transaction (`token import`): a token that cannot be sealed (bad syntax, a missing
    /// secret that must be restored) fails alone; the rest are written together, all or none.
    /// - Parameter tokens: each row's key, refresh token, issue time and expected expiry.
    /// - Returns: one outcome per token, in order.
    /// - throws: the store's errors (nothing of the batch is written then), binding the vault to the store.
    public func putBatch(_ tokens: [(key: TokenKey, token: SecretText, issuedAt: Date, expiresAt: Date?)]) throws
        -> [BatchOutcome]
    {
        // The newest version as the vault says now (I1), read again at most once a second of a long import.
        forgetLatestVersions(ifOlderThan: 1)
        var outcomes: [BatchOutcome?] = Array(repeating: nil, count: tokens.count)
        var rows: [StoredToken] = []
        var rowIndex: [Int] = []
        for (index, item) in tokens.enumerated() {
            do {
                if let problem = RefreshTokenSyntax.problem(item.token.revealed) {
                    throw CustodyError.badToken(item.key, problem)
                }
                let secret = Self.secretName(for: item.key)
                let (version, sealed, wrappedKey) = try seal(item.token, for: item.key, secret: secret)
                rows.append(
                    StoredToken(
                        key: item.key, secretName: secret, keyVersion: version, sealedToken: sealed,
                        issuedAt: item.issuedAt,
                        expiresAt: item.expiresAt, updatedAt: item.issuedAt, wrappedKey: wrappedKey))
                rowIndex.append(index)
            } catch let error as any ActionableError {
                outcomes[index] = .failed(error)
            }
        }
        if !rows.isEmpty {
            try recordThatTheStoreHoldsTokens()
            for (position, isNew) in try store.putBatch(rows).enumerated() {
                outcomes[rowIndex[position]] = .stored(isNew ? .added : .updated)
            }
        }
        return outcomes.map { $0! }
    }
}

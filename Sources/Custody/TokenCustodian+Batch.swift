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

    /// A batch sealed by ``sealBatch(_:)`` and not yet written: the rows to write, and the outcome of each
    /// token that could not be sealed. Holds sealed tokens and wrapped data keys only, never a plaintext.
    public struct SealedBatch: Sendable {
        /// The outcome per token of the batch, in order; nil for the tokens in ``rows``.
        fileprivate var outcomes: [BatchOutcome?]
        /// The sealed rows, in order.
        fileprivate var rows: [StoredToken]
        /// For each of ``rows``, its token's position in the batch.
        fileprivate var positions: [Int]
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
        try storeBatch(sealBatch(tokens))
    }

    /// The first half of ``putBatch(_:)``: checks and seals each token under its tenant's newest key version
    /// (creating a missing secret, as `put` does), writing nothing to the store. An import seals the next
    /// batch with a custodian of its own on another thread (over its own store session) while this batch
    /// is written, so the two halves use both cores.
    /// - throws: errors that are not about one token (the vault or the store unreadable).
    public func sealBatch(_ tokens: [(key: TokenKey, token: SecretText, issuedAt: Date, expiresAt: Date?)]) throws
        -> SealedBatch
    {
        // The newest version as the vault says now (I1), read again at most once a second of a long import.
        forgetLatestVersions(ifOlderThan: 1)
        var batch = SealedBatch(outcomes: Array(repeating: nil, count: tokens.count), rows: [], positions: [])
        batch.rows.reserveCapacity(tokens.count)
        batch.positions.reserveCapacity(tokens.count)
        for (index, item) in tokens.enumerated() {
            do {
                if let problem = RefreshTokenSyntax.problem(item.token.revealed) {
                    throw CustodyError.badToken(item.key, problem)
                }
                let secret = Self.secretName(for: item.key)
                let (version, sealed, wrappedKey) = try seal(item.token, for: item.key, secret: secret)
                batch.rows.append(
                    StoredToken(
                        key: item.key, secretName: secret, keyVersion: version, sealedToken: sealed,
                        issuedAt: item.issuedAt,
                        expiresAt: item.expiresAt, updatedAt: item.issuedAt, wrappedKey: wrappedKey))
                batch.positions.append(index)
            } catch let error as any ActionableError {
                batch.outcomes[index] = .failed(error)
            }
        }
        return batch
    }

    /// The second half of ``putBatch(_:)``: writes the sealed rows of `batch` in one store transaction
    /// (all or none), recording in the vault first that its store holds tokens.
    /// - Returns: one outcome per token of the batch, in order.
    /// - throws: the store's errors (nothing of the batch is written then), binding the vault to the store.
    public func storeBatch(_ batch: SealedBatch) throws -> [BatchOutcome] {
        var outcomes = batch.outcomes
        if !batch.rows.isEmpty {
            try recordThatTheStoreHoldsTokens()
            for (position, isNew) in try store.putBatch(batch.rows).enumerated() {
                outcomes[batch.positions[position]] = .stored(isNew ? .added : .updated)
            }
        }
        return outcomes.map { $0! }
    }
}

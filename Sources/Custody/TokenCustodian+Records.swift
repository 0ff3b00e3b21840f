import Foundation
import Store
import Support
import Vault

/// The token commands as library operations: each checks the vault permission it needs (audited), then
/// reads or changes the store, so a Swift caller gets the same checks and the same audit as the
/// command line, which only parses and prints.

extension TokenCustodian {
    /// Streams the rows matching the filters (nil means any), metadata only: the caller never gets a
    /// token from here. Needs `list`.
    public func listTokens(
        tenant: String? = nil, user: String? = nil, provider: String? = nil, status: TokenStatus? = nil,
        _ body: (StoredToken) throws -> Bool
    ) throws {
        try vault.requirePermission(.list, operation: "list tokens")
        try store.forEach(tenant: tenant, user: user, provider: provider, status: status, body)
    }

    /// One row, and its token only when `reveal` is set. Without `reveal` it needs `list`; with it,
    /// `get` (the data key fetch is the audited step).
    /// - throws: ``StoreError/notFound(_:)`` when there is no row.
    public func showToken(_ key: TokenKey, reveal: Bool) throws -> (row: StoredToken, token: SecretText?) {
        if !reveal { try vault.requirePermission(.list, operation: "show token") }
        guard let row = try store.get(key) else { throw StoreError.notFound(key) }
        return (row, reveal ? try open(row) : nil)
    }

    /// Deletes a row (the user is gone). Needs `delete`. Returns whether there was one.
    @discardableResult
    public func deleteToken(_ key: TokenKey) throws -> Bool {
        try vault.requirePermission(.delete, operation: "delete token")
        return try store.delete(key)
    }

    /// Drops a row's refresh token but keeps the record, status revoked (the app's access ends). Needs
    /// `delete`. Returns whether a token was dropped (false: it was dropped before).
    /// - throws: ``StoreError/notFound(_:)`` when there is no row.
    @discardableResult
    public func dropRefreshToken(_ key: TokenKey, now: Date = Date()) throws -> Bool {
        try vault.requirePermission(.delete, operation: "drop refresh token")
        guard try store.get(key) != nil else { throw StoreError.notFound(key) }
        return try store.dropRefreshToken(key, now: now)
    }
}

import Foundation

/// Where a stored token stands.
public enum TokenStatus: String, Sendable, CaseIterable, Codable {
    /// Usable: the refresh token is stored and believed alive.
    case active
    /// The provider said the token is dead (expired, revoked, consent needed): the user must sign in again.
    case needsReauth = "needs_reauth"
    /// The app's access was ended: the refresh token is gone, the record stays.
    case revoked
}

/// One row of the token store: a sealed refresh token and the bookkeeping refresh needs.
///
/// The refresh token is only ever here sealed: in the envelope format (``wrappedKey`` set) under its own
/// data key (DEK), which is wrapped under the tenant's secret at `keyVersion`; in the old format
/// (``wrappedKey`` nil, until the migration) directly under the tenant's secret at `keyVersion`. Either
/// way bound to this row (I2). Access tokens are never stored.
public struct StoredToken: Sendable, Equatable {
    /// The row id, stable for the row's life (0 before the row is written).
    public var id: Int64
    /// Tenant, user and provider.
    public var key: TokenKey
    /// The vault secret whose data key seals the token (by default the tenant id).
    public var secretName: String
    /// The secret version that wraps the token's data key (envelope format) or seals the token (old format).
    public var keyVersion: Int
    /// `nonce ‖ ciphertext ‖ tag`, or nil after the refresh token was dropped.
    public var sealedToken: [UInt8]?
    /// The token's data key wrapped under `keyVersion` (`nonce ‖ wrapped key ‖ tag`, 60 bytes), kept in the
    /// store's narrow table beside the token; nil for a row in the old format or without a token.
    public var wrappedKey: [UInt8]?
    /// When the token was first stored.
    public var issuedAt: Date
    /// When the refresh token was last obtained (set to `issuedAt` on insert; refresh moves it).
    public var refreshedAt: Date
    /// An estimate of when the refresh token expires, when known.
    public var expiresAt: Date?
    /// Where the token stands.
    public var status: TokenStatus
    /// Consecutive failed refreshes.
    public var failureCount: Int
    /// The last error code from the provider (for example `AADSTS700082`), never a message with data.
    public var lastErrorCode: String?
    /// Who holds the row's lease (a job run id or a token-access request), if anyone.
    public var leaseOwner: String?
    /// Until when the lease is held.
    public var leaseUntil: Date?
    /// When the row last changed.
    public var updatedAt: Date

    /// Creates a row value.
    public init(
        id: Int64 = 0, key: TokenKey, secretName: String, keyVersion: Int, sealedToken: [UInt8]?, issuedAt: Date,
        refreshedAt: Date? = nil, expiresAt: Date? = nil, status: TokenStatus = .active, failureCount: Int = 0,
        lastErrorCode: String? = nil, leaseOwner: String? = nil, leaseUntil: Date? = nil, updatedAt: Date? = nil,
        wrappedKey: [UInt8]? = nil
    ) {
        self.wrappedKey = wrappedKey
        self.id = id
        self.key = key
        self.secretName = secretName
        self.keyVersion = keyVersion
        self.sealedToken = sealedToken
        self.issuedAt = issuedAt
        self.refreshedAt = refreshedAt ?? issuedAt
        self.expiresAt = expiresAt
        self.status = status
        self.failureCount = failureCount
        self.lastErrorCode = lastErrorCode
        self.leaseOwner = leaseOwner
        self.leaseUntil = leaseUntil
        self.updatedAt = updatedAt ?? issuedAt
    }
}

extension StoredToken {
    /// What a token row's own `key_version` column says in either backend: 0 for a row in the envelope
    /// format (its data key's row in the narrow table names the version), the version itself for the old
    /// format or a row without a token.
    static func tokenColumnVersion(_ version: Int, wrappedKey: [UInt8]?, sealed: [UInt8]?) -> Int {
        wrappedKey != nil && sealed != nil ? 0 : version
    }
}

/// One row's wrapped data key as a rotation reads it from the store's narrow table: the row identity its
/// binding names, the version that wraps it and the wrapped bytes, never the token itself.
public struct DataKeyRow: Sendable {
    /// The token's row id (the keyset cursor).
    public var id: Int64
    /// The row's tenant, user and provider: the binding of the wrapped key (I2).
    public var key: TokenKey
    /// The version of the tenant's secret that wraps the data key.
    public var keyVersion: Int
    /// `nonce ‖ wrapped key ‖ tag` (60 bytes).
    public var wrappedKey: [UInt8]

    /// Creates the value.
    public init(id: Int64, key: TokenKey, keyVersion: Int, wrappedKey: [UInt8]) {
        self.id = id
        self.key = key
        self.keyVersion = keyVersion
        self.wrappedKey = wrappedKey
    }
}

/// One row's data key rewrapped under another version of its tenant's secret (the rotation's write).
public struct DataKeyUpdate: Sendable {
    /// The token's row id.
    public var id: Int64
    /// The row's tenant (whose per-version counts the update moves).
    public var tenant: String
    /// The version the wrapped key was read with.
    public var expectedKeyVersion: Int
    /// The wrapped key as read: the update applies only while the row still holds exactly it
    /// (compare-and-set; a refresh, reseal or another rewrap meanwhile wrote a new one, with a new nonce).
    public var expectedWrappedKey: [UInt8]
    /// The version that wraps the data key now.
    public var newKeyVersion: Int
    /// The same data key wrapped under `newKeyVersion`.
    public var wrappedKey: [UInt8]

    /// Creates an update.
    public init(
        id: Int64, tenant: String, expectedKeyVersion: Int, expectedWrappedKey: [UInt8], newKeyVersion: Int,
        wrappedKey: [UInt8]
    ) {
        self.id = id
        self.tenant = tenant
        self.expectedKeyVersion = expectedKeyVersion
        self.expectedWrappedKey = expectedWrappedKey
        self.newKeyVersion = newKeyVersion
        self.wrappedKey = wrappedKey
    }
}

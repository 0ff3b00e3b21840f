/// One row of the store's narrow table of wrapped data keys, as a rotation's walk sees it: raw bytes
/// straight from the store, valid only inside the call that hands it over (``TokenStore/scanDataKeys(afterID:limit:_:)``).
///
/// Rotation reads every wrapped key of the store; handing out the column bytes instead of Strings and
/// arrays spares three allocations per row. Call ``key`` (which makes Strings) only where a row's identity
/// must outlive the call: a failure to report, an item to list.
public struct DataKeyRowView {
    /// The token's row id (the keyset cursor).
    public let id: Int64
    /// The version of the tenant's secret that wraps the data key.
    public let keyVersion: Int
    /// The row's tenant, as UTF-8.
    public let tenant: UnsafeRawBufferPointer
    /// The row's user, as UTF-8.
    public let user: UnsafeRawBufferPointer
    /// The row's provider, as UTF-8.
    public let provider: UnsafeRawBufferPointer
    /// `nonce ‖ wrapped key ‖ tag`.
    public let wrappedKey: UnsafeRawBufferPointer

    /// Creates a view over bytes that stay valid while it is used.
    public init(
        id: Int64, keyVersion: Int, tenant: UnsafeRawBufferPointer, user: UnsafeRawBufferPointer,
        provider: UnsafeRawBufferPointer, wrappedKey: UnsafeRawBufferPointer
    ) {
        self.id = id
        self.keyVersion = keyVersion
        self.tenant = tenant
        self.user = user
        self.provider = provider
        self.wrappedKey = wrappedKey
    }

    /// The row's tenant, user and provider as Strings (allocates).
    public var key: TokenKey {
        TokenKey(
            tenant: String(decoding: tenant, as: UTF8.self), user: String(decoding: user, as: UTF8.self),
            provider: String(decoding: provider, as: UTF8.self))
    }
}

/// A batch of data keys rewrapped by a rotation, in flat buffers: ids, versions and the wrapped keys side
/// by side, no object per row, so building it and writing it allocates nothing per row (the rotation's
/// hot path; see ``TokenStore/replaceDataKeys(_:rows:)``).
///
/// Each row names its tenant by a number into ``tenants`` (so the store moves the per-version counts
/// without hashing a name per row), the version and wrapped key it was read with (the compare-and-set)
/// and the version and wrapped key to write. Every wrapped key is ``wrappedKeyByteCount`` bytes.
public struct DataKeyRewrapBatch: Sendable {
    /// The size of a wrapped data key in the envelope schema: a 12-byte nonce, the 32-byte key, a 16-byte tag.
    public static let wrappedKeyByteCount = 60

    /// The tenants the rows' tenant numbers refer to.
    public let tenants: [String]
    /// The rows' ids.
    public private(set) var ids: [Int64] = []
    /// Per row, its tenant's index in ``tenants``.
    public private(set) var tenantNumbers: [Int32] = []
    /// Per row, the version its wrapped key was read with.
    public private(set) var expectedVersions: [Int32] = []
    /// Per row, the version that wraps the data key now.
    public private(set) var newVersions: [Int32] = []
    /// The wrapped keys as read, ``wrappedKeyByteCount`` bytes per row, in row order.
    public private(set) var expectedKeys: [UInt8] = []
    /// The wrapped keys to write, ``wrappedKeyByteCount`` bytes per row, in row order.
    public private(set) var newKeys: [UInt8] = []

    /// An empty batch over `tenants`, with room for `capacity` rows.
    public init(tenants: [String], capacity: Int = 0) {
        self.tenants = tenants
        ids.reserveCapacity(capacity)
        tenantNumbers.reserveCapacity(capacity)
        expectedVersions.reserveCapacity(capacity)
        newVersions.reserveCapacity(capacity)
        expectedKeys.reserveCapacity(capacity * Self.wrappedKeyByteCount)
        newKeys.reserveCapacity(capacity * Self.wrappedKeyByteCount)
    }

    /// How many rows the batch holds.
    public var count: Int { ids.count }

    /// Appends a row whose new wrapped key `writeNewKey` writes into the ``wrappedKeyByteCount`` bytes it
    /// is given. When `writeNewKey` throws, or `expectedKey` is not ``wrappedKeyByteCount`` bytes long,
    /// nothing is appended and the error (or ``DataKeyRewrapBatch/WrongSize``) is thrown.
    public mutating func append(
        id: Int64, tenant: Int, expectedVersion: Int, newVersion: Int, expectedKey: UnsafeRawBufferPointer,
        writeNewKey: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        let size = Self.wrappedKeyByteCount
        guard expectedKey.count == size else { throw WrongSize(count: expectedKey.count) }
        let start = newKeys.count
        newKeys.append(contentsOf: repeatElement(0, count: size))
        do {
            try newKeys.withUnsafeMutableBytes {
                try writeNewKey(UnsafeMutableRawBufferPointer(rebasing: $0[start..<start + size]))
            }
        } catch {
            newKeys.removeLast(size)
            throw error
        }
        expectedKeys.append(contentsOf: expectedKey)
        ids.append(id)
        tenantNumbers.append(Int32(tenant))
        expectedVersions.append(Int32(clamping: expectedVersion))
        newVersions.append(Int32(clamping: newVersion))
    }

    /// The bytes of row `row` in a buffer of wrapped keys (``expectedKeys`` or ``newKeys``).
    public static func key(_ row: Int, in keys: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: keys[row * wrappedKeyByteCount..<(row + 1) * wrappedKeyByteCount])
    }

    /// A wrapped key of another size than the schema's: such a row cannot be rewrapped.
    public struct WrongSize: Error, Equatable {
        /// The size found.
        public let count: Int
    }
}

/// Who a store is: a random id and the time it was created, written once by schema migration 3.
///
/// The vault records the id of the store it serves (``StoreBinding``), so that a missing, empty or
/// different store is refused instead of being taken for a new one, and no key version is purged for
/// a store other than the one the vault serves. A copy of a store (a backup, a restore) keeps the id.
public struct StoreIdentity: Sendable, Equatable {
    /// 32 hex digits (128 random bits).
    public var id: String
    /// When the store was created (or, for a store made before identities, first migrated): ISO 8601, UTC.
    public var createdAt: String

    /// Reads the identity row.
    /// - throws: ``StoreError/empty(path:)`` when the row is missing (a damaged store).
    static func read(_ connection: SQLiteConnection) throws -> StoreIdentity {
        let statement = try connection.cached("SELECT id, created_at FROM store_identity WHERE singleton = 1")
        defer { statement.reset() }
        guard try statement.step() else { throw StoreError.empty(path: connection.path) }
        return StoreIdentity(id: statement.text(0), createdAt: statement.text(1))
    }
}

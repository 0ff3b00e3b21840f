import Crypto
import Foundation
import Support

/// A key vault as tokenkeeper uses it: one secret per tenant with ordered, immutable versions, each a
/// 256-bit data key; access policies; soft delete. ``FileVault`` is the local implementation and
/// ``PostgresVault`` the one several hosts share; the protocol keeps the stages independent of both so an
/// Azure Key Vault backend can follow.
///
/// Every call acts as ``principal`` and is refused with ``VaultError/permissionDenied(principal:permission:operation:secret:)``
/// when the principal's policy lacks the permission named on the method.
///
/// The contract every conformer keeps (`VaultConformanceTests`, in Tests/TokenKeeperTests/Conformance,
/// checks it for each backend): versions are immutable and ordered, a version's key never changes once
/// written; each mutation is atomic and durable before it returns (I3); a disabled version still opens
/// (I1); a version is purged only when the caller asks, and the caller must know that no token uses it
/// (I1); data keys are stored wrapped under the master key and bound to their secret and version (I2); a
/// wrong master key is named as such; every call is audited (never with a value); a read-only vault refuses
/// writes and stays byte-identical (I5). Conformers are `Sendable`: the refresh workers share one.

public protocol KeyVault: AnyObject, Sendable {
    /// The principal every call acts as.
    var principal: String { get }
    /// Where the vault is, for messages: a folder for ``FileVault``, `postgres:env:NAME` for a server
    /// vault. Never a connection string or any other secret.
    var location: String { get }
    /// Whether the vault was opened read-only (dry runs, `status`): every write is refused (I5).
    var isReadOnly: Bool { get }
    /// Creates a secret with version 1 (a new random data key). Needs `set`.
    func createSecret(_ name: String) throws -> SecretVersion
    /// Adds a version with a new random data key: "rotate". Needs `set`.
    func addVersion(to name: String) throws -> SecretVersion
    /// ``addVersion(to:)`` for each of `names`, in order, as one call where a backend can do it for less
    /// (``FileVault``: one lock, one folder sync, one audit sync). One result per name: a secret that
    /// cannot take a version (damaged, deleted, missing) fails only its own entry. Throws only for what
    /// fails every name alike (read-only, permission denied, a frozen vault, a lock or sync that fails);
    /// the default implementation calls ``addVersion(to:)`` per name and never throws. Needs `set`.
    func addVersions(to names: [String]) throws -> [Result<SecretVersion, any Error>]
    /// Live (not deleted) secrets. Needs `list`.
    func secrets() throws -> [SecretSummary]
    /// The names of every secret, live or soft-deleted, without opening any (so one damaged secret does not
    /// hide the others). Needs `list`.
    func secretNames() throws -> [String]
    /// A secret's versions in ascending order. Needs `list`.
    func versions(of name: String) throws -> [SecretVersion]
    /// The data key of one version; a disabled version still opens, so old tokens stay readable (I1). Needs `get`.
    func dataKey(secret: String, version: Int) throws -> SymmetricKey
    /// The newest enabled version and its key, for sealing. Needs `get`.
    func latestDataKey(secret: String) throws -> (version: Int, key: SymmetricKey)
    /// Disables a version (never the latest). Needs `set`.
    func disableVersion(secret: String, version: Int) throws
    /// Removes a disabled version for good. Needs `purge`. The caller must know no token uses it (I1), in the
    /// store it names: refused with ``VaultError/storeNotServed(vault:store:served:)`` unless `storeID` is the
    /// store this vault serves, so no version is purged while the store that needs it is missing or another.
    func purgeVersion(secret: String, version: Int, servingStore storeID: String) throws
    /// Soft-deletes a secret: its tokens become unreadable at once. Needs `delete`.
    func deleteSecret(_ name: String) throws
    /// Brings back a soft-deleted secret. Needs `recover`.
    func recoverSecret(_ name: String) throws
    /// Removes a soft-deleted secret for good. Needs `purge`.
    func purgeSecret(_ name: String) throws
    /// Soft-deleted secrets with their purge dates. Needs `list`.
    func deletedSecrets() throws -> [DeletedSecret]
    /// Gives a principal a set of permissions (replacing its policy). Needs every permission.
    func setPolicy(for principal: String, permissions: Set<VaultPermission>) throws
    /// Removes a principal's policy. Needs every permission.
    func removePolicy(for principal: String) throws
    /// Every policy. Needs `list`.
    func policies() throws -> [AccessPolicy]
    /// Whether a secret is live, soft-deleted or absent. Needs `list`.
    func secretState(_ name: String) throws -> SecretState
    /// Checks that the principal holds `permission` for `operation` (audited as any call), for an
    /// operation that is not a vault call itself (listing the store's rows, reading the audit log).
    func requirePermission(_ permission: VaultPermission, operation: String) throws
    /// Purges every soft-deleted secret whose purge date has passed. Needs `purge` (only), even when nothing
    /// is overdue; a write, so a read-only vault refuses it. Returns their names.
    func purgeOverdue() throws -> [String]
    /// The store this vault serves (``StoreBinding``), read now; nil while it serves none.
    func storeBinding() throws -> StoreBinding?
    /// Records the store this vault serves and whether it has held tokens; `replacing` names the store it
    /// served until now when that one is knowingly replaced (every permission when it held tokens).
    func bindStore(_ storeID: String, heldTokens: Bool, replacing: String?) throws
    /// Whether the vault holds any secret, live or soft-deleted.
    func holdsSecrets() throws -> Bool

    // MARK: Moving state (`state copy`, ``ExportedSecret``)

    /// The mark `state copy` left on the vault (``StateMark``), read now; nil for a vault in use. A vault
    /// marked `moved` does not open at all; one marked `frozen` refuses every change.
    func stateMark() throws -> StateMark?
    /// Sets the mark, or clears it with nil. Needs every permission; works on a frozen vault (it is how
    /// a copy moves on), never on a read-only one.
    func setStateMark(_ mark: StateMark?) throws
    /// One secret, live or soft-deleted, with every version and its data key, unwrapped in memory only
    /// (``SymmetricKey`` wipes it when the last copy goes). Needs `get`, as ``dataKey(secret:version:)``.
    func exportSecret(_ name: String) throws -> ExportedSecret
    /// Writes `secret` exactly as exported (version numbers, times, enabled flags, soft-delete state),
    /// each data key wrapped under this vault's own master key, replacing a secret of that name: a
    /// resumed copy writes it again. Needs every permission.
    func importSecret(_ secret: ExportedSecret) throws
}

extension KeyVault {
    /// One ``addVersion(to:)`` per name, each result kept (the batched form for backends without one).
    public func addVersions(to names: [String]) throws -> [Result<SecretVersion, any Error>] {
        names.map { name in Result { try addVersion(to: name) } }
    }
}

/// Where a secret stands in a vault.
public enum SecretState: Sendable, Equatable {
    /// Live: its versions open.
    case active
    /// Soft-deleted: nothing opens until it is recovered; purged after the retention.
    case softDeleted
    /// Never created, or purged.
    case absent

    /// The word reports and `status` print: `active`, `soft-deleted` or `absent`.
    public var word: String {
        switch self {
        case .active: "active"
        case .softDeleted: "soft-deleted"
        case .absent: "absent"
        }
    }
}

/// One version of a secret.
public struct SecretVersion: Sendable, Equatable {
    /// The version number: 1, 2, 3, ...
    public var number: Int
    /// When it was created.
    public var createdAt: Date
    /// Whether new tokens may be sealed with it.
    public var enabled: Bool
}

/// A live secret.
public struct SecretSummary: Sendable, Equatable {
    /// The secret's name (by default a tenant id).
    public var name: String
    /// When it was created.
    public var createdAt: Date
    /// Its newest version's number.
    public var latestVersion: Int
    /// How many versions it has.
    public var versionCount: Int
}

/// A soft-deleted secret.
public struct DeletedSecret: Sendable, Equatable {
    /// The secret's name.
    public var name: String
    /// When it was deleted.
    public var deletedAt: Date
    /// When it may be purged (deletion plus the vault's retention).
    public var scheduledPurgeAt: Date
}

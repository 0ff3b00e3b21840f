/// What a principal may do in the vault: Key Vault's secret permissions.
public enum VaultPermission: String, Sendable, CaseIterable, Codable, Comparable {
    /// Read a data key (open or seal tokens).
    case get
    /// List secrets, versions, deleted secrets and policies.
    case list
    /// Create secrets, add and disable versions.
    case set
    /// Soft-delete a secret.
    case delete
    /// Recover a soft-deleted secret.
    case recover
    /// Purge a soft-deleted secret or a disabled version for good.
    case purge

    public static func < (lhs: VaultPermission, rhs: VaultPermission) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// One principal's permissions.
public struct AccessPolicy: Sendable, Equatable {
    /// The principal, as given by `--principal` or `TOKENKEEPER_PRINCIPAL`.
    public var principal: String
    /// What it may do.
    public var permissions: Set<VaultPermission>
}

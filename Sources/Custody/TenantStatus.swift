import Foundation
import Store
import Support
import Vault

/// Where one tenant stands, for `tokenkeeper status` and Swift callers alike: its key, its tokens per key
/// version and status, and what the next job would do. Never a key or a token.

public struct TenantStatus: Codable, Sendable, Equatable {
    /// The tenant (its secret's name).
    public var tenant: String
    /// `active`, `soft-deleted` or `absent` (rows without a secret).
    public var secret: String
    /// The newest key version, when the secret is live.
    public var latestVersion: Int?
    /// How old the newest key version is, in whole days.
    public var keyAgeDays: Int?
    /// Rows holding a token per key version (`v1`, `v2`, ...).
    public var tokensByVersion: [String: Int]
    /// Rows per status (`active`, `needs_reauth`, `revoked`).
    public var tokensByStatus: [String: Int]
    /// The oldest refresh among rows that hold a token.
    public var oldestRefresh: Date?
    /// What the next run of `--spec` would do to this tenant, per stage.
    public var nextJob: [String]
    /// What is wrong with the tenant, when something is (tokens sealed with a secret the vault lacks).
    public var problem: String?

    /// Every tenant with a secret or with rows, in name order, as `status` shows them; `plans` is what the
    /// next job would do per tenant (from its dry run). Needs `list`; reads only.
    public static func all(vault: any KeyVault, store: any TokenStore, plans: [String: [String]] = [:], now: Date)
        throws -> [TenantStatus]
    {
        let live = try vault.secrets()
        let deleted = Set(try vault.deletedSecrets().map(\.name))
        let names = Set(live.map(\.name)).union(deleted).union(try store.tenants()).sorted()
        return try names.map { tenant in
            let versions = live.contains { $0.name == tenant } ? try vault.versions(of: tenant) : []
            let latest = versions.last
            let orphans =
                versions.isEmpty && !deleted.contains(tenant) ? try store.tokenCount(tenant: tenant, secret: tenant) : 0
            return TenantStatus(
                tenant: tenant,
                secret: (!versions.isEmpty ? SecretState.active : deleted.contains(tenant) ? .softDeleted : .absent)
                    .word,
                latestVersion: latest?.number,
                keyAgeDays: latest.map { Int(now.timeIntervalSince($0.createdAt) / 86_400) },
                tokensByVersion: Dictionary(
                    uniqueKeysWithValues: try store.keyVersionCounts(tenant: tenant).map { ("v\($0.key)", $0.value) }),
                tokensByStatus: Dictionary(
                    uniqueKeysWithValues: try store.statusCounts(tenant: tenant).map { ($0.key.rawValue, $0.value) }),
                oldestRefresh: try store.oldestRefresh(tenant: tenant),
                nextJob: plans[tenant] ?? [],
                problem: orphans == 0
                    ? nil
                    : "\(CountText.of(orphans, "token")) sealed with secret \(tenant), which is not in the vault "
                        + "(not_found). Restore the secret's file from a backup of the vault, or revoke the tenant's tokens."
            )
        }
    }
}

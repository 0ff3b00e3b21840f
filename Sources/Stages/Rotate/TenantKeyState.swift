import Foundation

/// What the rotate stage knows of one tenant before it acts: the secret's versions and how many
/// stored tokens each version seals. A snapshot: planning from it has no effects.
package struct TenantKeyState: Sendable, Equatable {
    /// The tenant, which is also its vault secret's name.
    package var tenant: String
    /// The secret's versions, in ascending order of number. Empty when the tenant has no secret.
    package var versions: [KeyVersionState]
    /// Stored tokens per key version (both formats).
    package var rowsByVersion: [Int: Int]
    /// Stored tokens still in the old format (sealed directly under a key version), which the rotation
    /// moves to envelope encryption whatever their version.
    package var oldFormatRows: Int

    /// Creates a snapshot.
    package init(tenant: String, versions: [KeyVersionState], rowsByVersion: [Int: Int], oldFormatRows: Int = 0) {
        self.tenant = tenant
        self.versions = versions.sorted { $0.number < $1.number }
        self.rowsByVersion = rowsByVersion
        self.oldFormatRows = oldFormatRows
    }

    /// The newest version, which new and rewrapped tokens are sealed with.
    package var latest: KeyVersionState? { versions.last }
}

/// One version of a tenant's secret as the planner sees it.
package struct KeyVersionState: Sendable, Equatable {
    /// The version number (1, 2, 3, ...).
    package var number: Int
    /// When it was created.
    package var createdAt: Date
    /// Whether it is still enabled.
    package var enabled: Bool

    /// Creates a version snapshot.
    package init(number: Int, createdAt: Date, enabled: Bool) {
        self.number = number
        self.createdAt = createdAt
        self.enabled = enabled
    }
}

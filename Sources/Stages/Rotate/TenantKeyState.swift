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
    /// Stored tokens still in the old format (sealed directly under a key version) per key version: a
    /// subset of ``rowsByVersion``, which the rotation moves to envelope encryption whatever their version.
    package var oldFormatRowsByVersion: [Int: Int]

    /// Creates a snapshot.
    package init(
        tenant: String, versions: [KeyVersionState], rowsByVersion: [Int: Int], oldFormatRowsByVersion: [Int: Int] = [:]
    ) {
        self.tenant = tenant
        self.versions = versions.sorted { $0.number < $1.number }
        self.rowsByVersion = rowsByVersion
        self.oldFormatRowsByVersion = oldFormatRowsByVersion
    }

    /// Stored tokens still in the old format, on any version.
    package var oldFormatRows: Int { oldFormatRowsByVersion.values.reduce(0, +) }

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

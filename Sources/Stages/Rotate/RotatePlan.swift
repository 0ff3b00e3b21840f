import Foundation

/// What the rotate stage will do to one tenant, decided from a ``TenantKeyState`` snapshot.
///
/// The steps run in this order and each is idempotent, so a run killed at any point is finished by
/// the next one: add a version if the latest is too old; rewrap every token on an older version
/// under the latest; disable, then purge, the versions beyond `keep_versions` that no token uses.
package struct TenantRotatePlan: Sendable, Equatable {
    /// The tenant (its secret's name).
    package var tenant: String
    /// Whether a new version is added, because the latest is older than `max_key_age` (or missing).
    package var addsVersion: Bool
    /// The version tokens end on: the current latest, or the one about to be added.
    package var targetVersion: Int
    /// Age of the current latest version, when there is one.
    package var latestAge: TimeInterval?
    /// Envelope tokens on an older version than the target: their data keys are rewrapped under the
    /// target version. Old-format tokens are never counted here, only in ``rowsToMigrate``.
    package var rowsToRewrap: Int
    /// Tokens in the old format (sealed directly under a key version) to move to envelope encryption under
    /// the target version, on the target version or not. Each row counts once: here or in ``rowsToRewrap``.
    package var rowsToMigrate: Int = 0
    /// Tokens to seal again under a fresh data key (`reseal: true`: every token of the tenant).
    package var rowsToReseal: Int = 0
    /// Versions to disable (beyond `keep_versions`, still enabled).
    package var versionsToDisable: [Int]
    /// Versions to purge for good (beyond `keep_versions`); apply re-checks that no token uses them (I1).
    package var versionsToPurge: [Int]

    /// Whether there is nothing to do: the report says "up to date".
    package var isUpToDate: Bool {
        !addsVersion && rowsToRewrap == 0 && rowsToMigrate == 0 && rowsToReseal == 0 && versionsToDisable.isEmpty
            && versionsToPurge.isEmpty
    }

    /// One line for people: "up to date", or what will happen.
    package var summary: String {
        if isUpToDate { return "up to date (key version \(targetVersion))" }
        var parts: [String] = []
        if addsVersion { parts.append("add key version \(targetVersion)") }
        if rowsToReseal > 0 {
            parts.append(
                "reseal \(rowsToReseal) token\(rowsToReseal == 1 ? "" : "s") under fresh data keys (version \(targetVersion))"
            )
        } else if rowsToRewrap > 0 {
            parts.append("rewrap \(rowsToRewrap) token\(rowsToRewrap == 1 ? "" : "s") to version \(targetVersion)")
        }
        if rowsToMigrate > 0 {
            parts.append("migrate \(rowsToMigrate) token\(rowsToMigrate == 1 ? "" : "s") to envelope encryption")
        }
        if !versionsToDisable.isEmpty {
            parts.append("disable version\(versionsToDisable.count == 1 ? "" : "s") \(Self.list(versionsToDisable))")
        }
        if !versionsToPurge.isEmpty {
            parts.append("purge version\(versionsToPurge.count == 1 ? "" : "s") \(Self.list(versionsToPurge))")
        }
        return parts.joined(separator: ", ")
    }

    private static func list(_ numbers: [Int]) -> String { numbers.map(String.init).joined(separator: ", ") }
}

/// The pure planner of the rotate stage.
package enum RotatePlanner {
    /// Plans one tenant.
    /// - Parameters:
    ///   - state: the snapshot of the tenant's versions and token counts.
    ///   - maxKeyAge: a new version is added only when the latest is older than this.
    ///   - keepVersions: how many versions before the target are kept after the rewrap.
    ///   - now: the time the age is measured at.
    ///   - reseal: every token is to be sealed again under a fresh data key.
    package static func plan(
        _ state: TenantKeyState, maxKeyAge: TimeInterval, keepVersions: Int, now: Date, reseal: Bool = false
    )
        -> TenantRotatePlan
    {
        let latest = state.latest
        let latestAge = latest.map { now.timeIntervalSince($0.createdAt) }
        let addsVersion = latest == nil || (latestAge ?? 0) > maxKeyAge
        let target = addsVersion ? (latest?.number ?? 0) + 1 : latest!.number
        // Envelope rows only: the migration moves old-format rows to the target itself, so counting them
        // here too would count them twice (the plan said "rewrap 4" + "migrate 2" of 4 rows).
        let rowsToRewrap = state.rowsByVersion.filter { $0.key != target }
            .map { max(0, $0.value - state.oldFormatRowsByVersion[$0.key, default: 0]) }.reduce(0, +)
        // Versions kept: the target and the `keepVersions` newest below it; everything older goes.
        let below = state.versions.map(\.number).filter { $0 < target }.sorted(by: >)
        let beyond = Array(below.dropFirst(keepVersions)).sorted()
        let toDisable = state.versions.filter { beyond.contains($0.number) && $0.enabled }.map(\.number)
        return TenantRotatePlan(
            tenant: state.tenant, addsVersion: addsVersion, targetVersion: target, latestAge: latestAge,
            rowsToRewrap: rowsToRewrap, rowsToMigrate: state.oldFormatRows,
            rowsToReseal: reseal ? state.rowsByVersion.values.reduce(0, +) : 0, versionsToDisable: toDisable,
            versionsToPurge: beyond)
    }
}

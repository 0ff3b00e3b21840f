import Custody
import Foundation
import Report
import Spec
import Store
import Support
import Vault

/// The rotate stage: per tenant, add a key version when the latest is too old, rewrap every token
/// under the latest, then disable and purge the versions beyond `keep_versions` that no token uses.
///
/// Planning reads a snapshot (``TenantKeyState``) and is pure (``RotatePlanner``); applying runs the
/// plan's steps in an order that keeps every token readable at every instant (I1) and lets a killed
/// run be finished by the next (I3). A second run the same day finds every tenant "up to date" (I4).

package struct RotateStage {
    /// The stage's name.
    package let name: String
    /// Its options.
    package let options: RotateOptions

    /// Creates the stage from its spec.
    package init(name: String, options: RotateOptions) {
        self.name = name
        self.options = options
    }

    /// Plans, then (unless a dry run) applies, and reports one case per tenant plus one per failed token.
    package func run(_ context: StageContext) -> StageReport {
        let recorder = StageRecorder(name: name, kind: .rotate, startedAt: context.clock(), detail: context.detail)
        let tenants: [String]
        do {
            tenants = try selectedTenants(context)
        } catch {
            recorder.error("tenants", error)
            return recorder.finish(summary: "could not list the tenants to rotate", at: context.clock())
        }
        var plans: [(plan: TenantRotatePlan, state: TenantKeyState)] = []
        var unreadableTenants = 0
        let oldFormat: [String: [Int: Int]]
        let versionCounts: [String: [Int: Int]]
        do {
            // Rows an older tokenkeeper wrote, per tenant: read from their partial index, free once migrated.
            oldFormat = try context.store.oldFormatCountsByVersion()
            versionCounts = try context.store.keyVersionCounts(tenants: tenants)
        } catch {
            recorder.error("tenants", error)
            return recorder.finish(summary: "could not count the tokens to migrate", at: context.clock())
        }
        for tenant in tenants {
            do {
                guard
                    let state = try snapshot(
                        tenant, counts: versionCounts[tenant, default: [:]],
                        oldFormatRows: oldFormat[tenant, default: [:]],
                        context: context, recorder: recorder)
                else { continue }
                let plan = RotatePlanner.plan(
                    state, maxKeyAge: options.maxKeyAge, keepVersions: options.keepVersions, now: context.clock(),
                    reseal: options.reseal)
                plans.append((plan, state))
            } catch {
                unreadableTenants += 1
                recorder.error(tenant, error)
            }
        }
        let due = plans.filter { !$0.plan.isUpToDate }
        let tokensDue = due.reduce(0) { $0 + Self.rowsToMove($1.plan) }
        recorder.count(.tenants, plans.count)
        recorder.count(.tenantsUpToDate, plans.count - due.count)
        if context.dryRun {
            for (plan, _) in plans {
                recorder.pass(plan.tenant, plan.isUpToDate ? plan.summary : "would " + plan.summary)
                if !plan.isUpToDate { recorder.note("\(plan.tenant): would \(plan.summary)") }
            }
            recorder.count(.tenantsDue, due.count)
            recorder.count(.tokensToRewrap, tokensDue)
            let summary =
                due.isEmpty
                ? upToDateSummary(plans.count)
                : "\(CountText.of(plans.count, "tenant")): would rotate \(due.count) "
                    + "(\(CountText.of(tokensDue, "token")) to rewrap), \(plans.count - due.count) up to date"
            return recorder.finish(summary: summary, at: context.clock())
        }
        context.progress.begin(stage: name, total: tokensDue, unit: "tokens")
        let failedTenants = apply(plans, context: context, recorder: recorder) + unreadableTenants
        if due.isEmpty, !recorder.hasFailures {
            return recorder.finish(summary: upToDateSummary(plans.count), at: context.clock())
        }
        var summary =
            "\(CountText.of(plans.count, "tenant")): \(due.count - (failedTenants - unreadableTenants)) rotated, \(plans.count - due.count) up to date"
        if failedTenants > 0 { summary += ", \(failedTenants) with failures" }
        summary += "; \(CountText.of(recorder.value(of: .tokensRewrapped), "token")) rewrapped"
        var how: [String] = []
        if recorder.value(of: .tokensResealed) > 0 {
            how.append("\(CountText.number(recorder.value(of: .tokensResealed))) resealed under fresh data keys")
        }
        if recorder.value(of: .tokensMigrated) > 0 {
            how.append("\(CountText.number(recorder.value(of: .tokensMigrated))) migrated to envelope encryption")
        }
        if !how.isEmpty { summary += " (\(how.joined(separator: ", ")))" }
        if recorder.value(of: .tokensFailed) > 0 {
            summary += ", \(CountText.number(recorder.value(of: .tokensFailed))) failed"
        }
        if recorder.value(of: .writeTransactions) > 0 || recorder.value(of: .longestCheckpointMicroseconds) > 0 {
            summary += String(
                format: "; longest store write %.1f ms, longest checkpoint %.1f ms",
                Double(recorder.value(of: .longestWriteMicroseconds)) / 1000,
                Double(recorder.value(of: .longestCheckpointMicroseconds)) / 1000)
        }
        return recorder.finish(summary: summary, at: context.clock())
    }

    /// The rows a plan moves, each counted once: every token when resealing, else the envelope rows on older
    /// versions and the old-format rows to migrate (the progress total and the dry run's count).
    static func rowsToMove(_ plan: TenantRotatePlan) -> Int {
        plan.rowsToReseal > 0 ? plan.rowsToReseal : plan.rowsToRewrap + plan.rowsToMigrate
    }

    /// "up to date: 3 tenants, every latest key younger than 30d".
    private func upToDateSummary(_ tenants: Int) -> String {
        tenants == 0
            ? "no tenants to rotate"
            : "up to date: \(CountText.of(tenants, "tenant")), every latest key younger than \(DurationText.text(options.maxKeyAge))"
    }

    // MARK: - Planning

    /// The tenants the spec selects (every live secret, a list, or the lines of a file) that fall in the
    /// run's shard.
    func selectedTenants(_ context: StageContext) throws -> [String] {
        let selected: [String] =
            switch options.tenants {
            // Every secret (named from its file, so a damaged one fails only its own tenant), and every tenant
            // whose rows hold tokens: a tenant whose secret went missing is reported, never passed over.
            case .all: Set(try context.vault.secretNames()).union(try context.store.tenantsHoldingTokens()).sorted()
            case .list(let tenants): tenants
            case .file(let path): try TenantUserList.tenants(path: path)
            }
        return context.shard.isWhole ? selected : selected.filter(context.shard.contains)
    }

    /// The tenant's versions and token counts, or nil (with a case recorded) when there is nothing to rotate.
    private func snapshot(
        _ tenant: String, counts: [Int: Int], oldFormatRows: [Int: Int], context: StageContext,
        recorder: StageRecorder
    ) throws -> TenantKeyState? {
        let versions: [SecretVersion]
        do {
            versions = try context.vault.versions(of: tenant)
        } catch VaultError.secretNotFound {
            let rows = counts.values.reduce(0, +)
            if rows == 0 {
                recorder.skip(tenant, "no key secret and no tokens: nothing to rotate")
            } else {
                recorder.fail(
                    tenant, type: .notFound, code: "secret_missing",
                    message: "tenant \(tenant): \(CountText.of(rows, "token")) but no key secret in the vault. "
                        + "Restore the vault from a backup, or revoke the tenant's tokens.")
            }
            return nil
        } catch VaultError.secretDeleted {
            // A revoked tenant: nothing to rotate. Listed only while rows still hold tokens (a crypto-shred
            // under way, which the revoke stage finishes).
            if !counts.isEmpty { recorder.skip(tenant, "key secret soft-deleted (revoked tenant): nothing to rotate") }
            return nil
        }
        return TenantKeyState(
            tenant: tenant,
            versions: versions.map { KeyVersionState(number: $0.number, createdAt: $0.createdAt, enabled: $0.enabled) },
            rowsByVersion: counts, oldFormatRowsByVersion: oldFormatRows)
    }

    // MARK: - Applying

    /// What applying has done to one tenant so far.
    private struct TenantProgress {
        var plan: TenantRotatePlan
        var state: TenantKeyState
        var target: Int
        var started: Date
        var done: [String] = []
        var error: (any Error)?
    }

    /// Notes how long each phase of applying took, timed with the stage's clock.
    private struct PhaseTimer {
        let clock: @Sendable () -> Date
        let recorder: StageRecorder
        var started: Date

        mutating func done(_ phase: String) {
            let now = clock()
            recorder.note(String(format: "phase %@: %.3f s", phase, now.timeIntervalSince(started)))
            started = now
        }
    }

    /// Runs every tenant's plan in three phases: add the due versions; rewrap the tokens of all tenants in
    /// one walk; then per tenant disable and purge what no token uses. Each step is idempotent; a failure
    /// stops its tenant only, and every token stays readable at every instant (I1).
    /// - Returns: how many due tenants ended with a failure.
    private func apply(
        _ plans: [(plan: TenantRotatePlan, state: TenantKeyState)], context: StageContext,
        recorder: StageRecorder
    ) -> Int {
        var tenants: [TenantProgress] = []
        for (plan, state) in plans {
            if plan.isUpToDate {
                recorder.pass(plan.tenant, plan.summary)
            } else {
                tenants.append(
                    TenantProgress(plan: plan, state: state, target: plan.targetVersion, started: context.clock()))
            }
        }
        var timer = PhaseTimer(clock: context.clock, recorder: recorder, started: context.clock())
        addVersions(&tenants, context: context, recorder: recorder)
        timer.done("add versions")
        let rewrapper = TokenRewrapper(custodian: context.custodian, batchSize: options.batchSize)
        let rowsToRewrap = fetchKeys(&tenants, into: rewrapper)
        timer.done("fetch keys")
        let outcomes = rewrap(&tenants, rows: rowsToRewrap, with: rewrapper, context: context, recorder: recorder)
        timer.done("rewrap")
        let failed = retire(&tenants, outcomes: outcomes, rewrapper: rewrapper, context: context, recorder: recorder)
        timer.done("retire versions")
        record(rewrapper.timings, recorder: recorder)
        return failed
    }

    /// Records how long the rotation held the store (point 3 of issue 14): token use waits at most one write
    /// transaction or checkpoint. Counts for programs (microseconds), a note for people.
    private func record(_ timings: TokenRewrapper.Timings, recorder: StageRecorder) {
        guard timings.transactions > 0 || timings.checkpoints > 0 else { return }
        recorder.count(.writeTransactions, timings.transactions)
        recorder.count(.longestWriteMicroseconds, Int((timings.longestTransaction * 1e6).rounded(.up)))
        recorder.count(.longestCheckpointMicroseconds, Int((timings.longestCheckpoint * 1e6).rounded(.up)))
        recorder.note(
            String(
                format:
                    "store held: %d write transactions, longest %.1f ms (%.3f s in all); %d checkpoints, longest %.1f ms (%.3f s in all)",
                timings.transactions, timings.longestTransaction * 1000, timings.totalTransactions,
                timings.checkpoints, timings.longestCheckpoint * 1000, timings.totalCheckpoints))
    }

    /// Phase 1: new versions, so that new and rewrapped tokens are sealed with them.
    /// One batched vault call for every due tenant (its fixed cost paid once); a tenant whose secret
    /// cannot take a version fails alone.
    private func addVersions(_ tenants: inout [TenantProgress], context: StageContext, recorder: StageRecorder) {
        let adding = tenants.indices.filter { tenants[$0].plan.addsVersion }
        guard !adding.isEmpty else { return }
        let results: [Result<SecretVersion, any Error>]
        do {
            results = try context.vault.addVersions(to: adding.map { tenants[$0].plan.tenant })
        } catch {
            for index in adding { tenants[index].error = error }
            return
        }
        context.custodian.forgetCachedKeys()
        for (index, result) in zip(adding, results) {
            switch result {
            case .success(let version):
                tenants[index].target = version.number
                recorder.count(.versionsAdded)
                tenants[index].done.append("added key version \(version.number)")
            case .failure(let error):
                tenants[index].error = error
            }
        }
    }

    /// Fetches the keys each tenant's rewrap needs. Returns how many rows are to be rewrapped.
    private func fetchKeys(_ tenants: inout [TenantProgress], into rewrapper: TokenRewrapper) -> Int {
        var rowsToRewrap = 0
        for index in tenants.indices where tenants[index].error == nil && Self.rowsToMove(tenants[index].plan) > 0 {
            let tenant = tenants[index]
            do {
                try rewrapper.prepare(
                    tenant: tenant.plan.tenant, target: tenant.target,
                    oldVersions: tenant.state.rowsByVersion.filter { $0.value > 0 }.map(\.key))
                rowsToRewrap += Self.rowsToMove(tenant.plan)
            } catch {
                tenants[index].error = error
            }
        }
        return rowsToRewrap
    }

    /// Phase 2: rewraps the tokens of all tenants in one walk.
    private func rewrap(
        _ tenants: inout [TenantProgress], rows rowsToRewrap: Int, with rewrapper: TokenRewrapper,
        context: StageContext, recorder: StageRecorder
    ) -> [String: TokenRewrapper.Outcome] {
        guard rowsToRewrap > 0 else { return [:] }
        do {
            return try rewrapper.rewrapAll(
                reseal: options.reseal, now: context.clock(),
                onBatch: { context.progress.advance($0) },
                onRewrapped: context.detail == .items
                    ? { key in recorder.passItem(key.description, "rewrapped") } : nil,
                onFailure: { key, error in recorder.fail(key.description, error) })
        } catch {
            // The store refused a batch: every tenant still in the walk stops here (committed batches stay).
            for index in tenants.indices where tenants[index].error == nil && Self.rowsToMove(tenants[index].plan) > 0 {
                tenants[index].error = error
            }
            return [:]
        }
    }

    /// Phase 3: per tenant, disable and purge what no token uses any more, then the tenant's case. The
    /// rewrapped rows must survive a power loss before a version they were moved off can go (I1).
    /// - Returns: how many tenants failed.
    private func retire(
        _ tenants: inout [TenantProgress], outcomes: [String: TokenRewrapper.Outcome], rewrapper: TokenRewrapper,
        context: StageContext, recorder: StageRecorder
    ) -> Int {
        let retiring = tenants.indices.filter { tenants[$0].error == nil && !tenants[$0].plan.versionsToPurge.isEmpty }
        if !retiring.isEmpty {
            do {
                try rewrapper.makeDurable()
            } catch {
                for index in retiring { tenants[index].error = error }
            }
        }
        var failed = 0
        for var tenant in tenants {
            let outcome = outcomes[tenant.plan.tenant] ?? TokenRewrapper.Outcome()
            // Every token now on the target version counts as rewrapped, whichever way it got there.
            recorder.count(.tokensRewrapped, outcome.rewrapped + outcome.migrated + outcome.resealed)
            if outcome.migrated > 0 { recorder.count(.tokensMigrated, outcome.migrated) }
            if outcome.resealed > 0 { recorder.count(.tokensResealed, outcome.resealed) }
            if outcome.failed > 0 { recorder.count(.tokensFailed, outcome.failed) }
            if outcome.rewrapped > 0 {
                tenant.done.append("rewrapped \(CountText.of(outcome.rewrapped, "token")) to version \(tenant.target)")
            }
            if outcome.migrated > 0 {
                tenant.done.append(
                    "migrated \(CountText.of(outcome.migrated, "token")) to envelope encryption (version \(tenant.target))"
                )
            }
            if outcome.resealed > 0 {
                tenant.done.append(
                    "resealed \(CountText.of(outcome.resealed, "token")) under fresh data keys (version \(tenant.target))"
                )
            }
            if tenant.error == nil {
                do {
                    try retireVersions(&tenant, context: context, recorder: recorder)
                } catch {
                    tenant.error = error
                }
            }
            if tenant.error != nil || outcome.failed > 0 { failed += 1 }
            finish(tenant, failedTokens: outcome.failed, clock: context.clock, recorder: recorder)
        }
        return failed
    }

    /// Disables, then purges, the versions beyond `keep_versions` that no token uses now (re-read after
    /// the rewrap: a version is never disabled or purged while a token needs it, I1).
    private func retireVersions(_ tenant: inout TenantProgress, context: StageContext, recorder: StageRecorder) throws {
        guard !tenant.plan.versionsToPurge.isEmpty else { return }
        let name = tenant.plan.tenant
        let referenced = try context.store.referencedVersions(tenant: name)
        let current = try context.vault.versions(of: name)
        var kept: [Int] = []
        for version in tenant.plan.versionsToPurge {
            guard let entry = current.first(where: { $0.number == version }) else { continue }
            if referenced.contains(version) {
                kept.append(version)
                continue
            }
            if entry.enabled {
                try context.vault.disableVersion(secret: name, version: version)
                recorder.count(.versionsDisabled)
                tenant.done.append("disabled version \(version)")
            }
            // The vault refuses unless this store is the one it serves (I1 across a missing or swapped store).
            try context.vault.purgeVersion(secret: name, version: version, servingStore: context.store.identity.id)
            recorder.count(.versionsPurged)
            tenant.done.append("purged version \(version)")
        }
        if !kept.isEmpty {
            tenant.done.append(
                "kept version\(kept.count == 1 ? "" : "s") \(kept.map(String.init).joined(separator: ", ")) "
                    + "(tokens still use \(kept.count == 1 ? "it" : "them"))")
        }
    }

    /// Records the tenant's case: passed, or failed with the first error or the count of tokens not rewrapped.
    private func finish(_ tenant: TenantProgress, failedTokens: Int, clock: () -> Date, recorder: StageRecorder) {
        let name = tenant.plan.tenant
        let duration = clock().timeIntervalSince(tenant.started)
        let message =
            tenant.done.isEmpty ? "up to date (key version \(tenant.target))" : tenant.done.joined(separator: ", ")
        if let error = tenant.error {
            if !tenant.done.isEmpty { recorder.note("\(name): \(message) before the failure") }
            recorder.fail(name, error, duration: duration)
        } else if failedTokens > 0 {
            recorder.note("\(name): \(message)")
            recorder.fail(
                name, type: .crypto, code: "tokens_not_rewrapped",
                message:
                    "\(message); \(CountText.of(failedTokens, "token")) could not be rewrapped (see the item cases)",
                duration: duration)
        } else {
            recorder.note("\(name): \(message)")
            recorder.pass(name, message, duration: duration)
        }
    }
}

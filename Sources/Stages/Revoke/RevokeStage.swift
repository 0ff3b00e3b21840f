import Custody
import Foundation
import Report
import Spec
import Store
import Support
import Vault

/// The revoke stage: ends access per user (delete the record, or drop the refresh token and keep
/// the record) and per tenant (crypto-shredding: soft-delete the tenant's secret so every token of
/// the tenant is unreadable at once, delete its rows, and with `purge: true` purge the secret).
///
/// Each step is idempotent: what is already gone passes as "already revoked" (I4). Tenants go first,
/// so a user of a shredded tenant is already revoked by the time the users are reached. With
/// `at_provider: true` each refresh token is first revoked at its provider's RFC 7009 endpoint, where
/// the provider has one; a row whose provider revocation failed keeps its record for the next run.

package struct RevokeStage {
    /// The stage's name.
    package let name: String
    /// Its options.
    package let options: RevokeOptions
    /// The spec's providers by name (rows name theirs), for `at_provider`.
    package let providers: [String: ProviderSpec]

    /// Creates the stage from its spec.
    package init(name: String, options: RevokeOptions, providers: [String: ProviderSpec] = [:]) {
        self.name = name
        self.options = options
        self.providers = providers
    }

    /// Plans, then (unless a dry run) applies; one case per tenant, plus one per failed user.
    package func run(_ context: StageContext) async -> StageReport {
        let recorder = StageRecorder(name: name, kind: .revoke, startedAt: context.clock(), detail: context.detail)
        var revoker: ProviderRevoker?
        if options.atProvider, !context.dryRun {
            do {
                revoker = try ProviderRevoker(
                    providers: providers, environment: context.environment, custodian: context.custodian)
            } catch {
                recorder.error("at_provider", error)
                return recorder.finish(
                    summary: "not run: the providers' client secrets could not be read", at: context.clock())
            }
        }
        var users = options.users
        if let file = options.usersFile {
            do {
                users += try TenantUserList.users(path: file)
            } catch {
                recorder.error("users_file", error)
                return recorder.finish(summary: "could not read the users file", at: context.clock())
            }
        }
        // A sharded run revokes only the tenants of its shard, and the users of those tenants.
        users = Self.unique(users).filter { context.shard.contains($0.tenant) }
        let tenants = Self.unique(options.tenants).filter(context.shard.contains)
        context.progress.begin(stage: name, total: tenants.count + users.count, unit: "items")
        for tenant in tenants {
            await revokeTenant(tenant, context: context, recorder: recorder, revoker: revoker)
            context.progress.advance(1)
        }
        let byTenant = Dictionary(grouping: users, by: \.tenant)
        for tenant in Self.unique(users.map(\.tenant)) {
            await revokeUsers(of: tenant, byTenant[tenant]!, context: context, recorder: recorder, revoker: revoker)
        }
        let verb = context.dryRun ? "would revoke" : "revoked"
        var parts: [String] = []
        if !tenants.isEmpty {
            let count = CountText.of(recorder.value(of: .tenantsRevoked), "tenant")
            parts.append(
                (context.dryRun ? "would revoke \(count)" : "\(count) \(verb)")
                    + ", \(CountText.number(recorder.value(of: .tenantsAlreadyRevoked))) already revoked")
        }
        if !users.isEmpty {
            let count = CountText.of(recorder.value(of: .usersRevoked), "user")
            parts.append(
                (context.dryRun ? "would revoke \(count)" : "\(count) \(verb)")
                    + ", \(CountText.number(recorder.value(of: .usersAlreadyRevoked))) already revoked")
        }
        if recorder.value(of: .usersFailed) + recorder.value(of: .tenantsFailed) > 0 {
            parts.append(
                "\(CountText.number(recorder.value(of: .usersFailed) + recorder.value(of: .tenantsFailed))) failed")
        }
        let summary = parts.isEmpty ? "nothing to revoke" : parts.joined(separator: "; ")
        return recorder.finish(summary: summary, at: context.clock())
    }

    // MARK: - Tenants

    private func revokeTenant(
        _ tenant: String, context: StageContext, recorder: StageRecorder, revoker: ProviderRevoker?
    ) async {
        let started = context.clock()
        do {
            let secret = try context.vault.secretState(tenant)
            let rows = try context.store.count(tenant: tenant)
            let plan = RevokePlanner.plan(
                TenantSecretState(tenant: tenant, secret: secret, rows: rows), purge: options.purge)
            if plan.isAlreadyRevoked {
                recorder.count(.tenantsAlreadyRevoked)
                recorder.pass(tenant, "already revoked")
                return
            }
            if context.dryRun {
                recorder.count(.tenantsRevoked)
                recorder.pass(tenant, "would " + plan.summary)
                recorder.note("\(tenant): would \(plan.summary)")
                return
            }
            var done: [String] = []
            if let revoker, plan.softDeletesSecret {
                let revokedThere = try await revokeAtProvider(
                    tenant, revoker: revoker, context: context, recorder: recorder)
                if revokedThere > 0 { done.append("\(CountText.of(revokedThere, "token")) revoked at the provider") }
            }
            done += try shred(tenant, plan: plan, context: context, recorder: recorder)
            recorder.count(.tenantsRevoked)
            recorder.note("\(tenant): \(done.joined(separator: ", "))")
            recorder.pass(tenant, done.joined(separator: ", "), duration: context.clock().timeIntervalSince(started))
        } catch {
            recorder.count(.tenantsFailed)
            recorder.fail(tenant, error, duration: context.clock().timeIntervalSince(started))
        }
    }

    /// Revokes every token of the tenant at the provider, while the tenant's key can still open them.
    /// A token the provider refuses to revoke is a failed item; the tenant goes on.
    /// - Returns: how many tokens the provider revoked.
    private func revokeAtProvider(
        _ tenant: String, revoker: ProviderRevoker, context: StageContext,
        recorder: StageRecorder
    ) async throws -> Int {
        var rows: [StoredToken] = []
        try context.store.forEach(tenant: tenant) {
            rows.append($0); return true
        }
        var revoked = 0
        for row in rows where row.sealedToken != nil {
            do {
                if try await revoker.revoke(row) { revoked += 1 }
            } catch {
                recorder.fail(row.key.description, error)
            }
        }
        return revoked
    }

    /// Crypto-shredding as planned: the secret goes first (from that instant no token of the tenant
    /// opens), then the rows, then the secret for good. Returns what was done, for the report.
    private func shred(_ tenant: String, plan: TenantRevokePlan, context: StageContext, recorder: StageRecorder) throws
        -> [String]
    {
        var done: [String] = []
        if plan.softDeletesSecret {
            try context.vault.deleteSecret(tenant)
            done.append("secret soft-deleted (every token unreadable)")
        }
        if plan.rowsToDelete > 0 {
            let deleted = try context.store.deleteTenant(tenant)
            recorder.count(.rowsDeleted, deleted)
            done.append("\(CountText.of(deleted, "row")) deleted")
        }
        if plan.purgesSecret {
            try context.vault.purgeSecret(tenant)
            done.append("secret purged")
        }
        return done
    }

    // MARK: - Users

    /// What revoking a tenant's users came to.
    private struct UsersTally {
        var revoked = 0, already = 0, failed = 0, rows = 0
    }

    private func revokeUsers(
        of tenant: String, _ users: [TenantUser], context: StageContext, recorder: StageRecorder,
        revoker: ProviderRevoker?
    ) async {
        let started = context.clock()
        var tally = UsersTally()
        for user in users {
            defer { context.progress.advance(1) }
            do {
                try await revoke(user, context: context, recorder: recorder, revoker: revoker, tally: &tally)
            } catch {
                tally.failed += 1
                recorder.fail(user.description, error)
            }
        }
        let message = record(tally, recorder: recorder, dryRun: context.dryRun)
        if tally.failed > 0 {
            recorder.fail(
                tenant, type: recorder.cases.last?.failureType ?? .unexpected,
                message: "\(message); \(CountText.of(tally.failed, "user")) failed (see the item cases)",
                duration: context.clock().timeIntervalSince(started))
        } else {
            recorder.pass(tenant, message, duration: context.clock().timeIntervalSince(started))
        }
        recorder.note("\(tenant): \(message)")
    }

    /// Revokes one user's rows as planned: at the provider first (a failure there throws, so the record
    /// stays and the next run tries again), then the record or its refresh token.
    private func revoke(
        _ user: TenantUser, context: StageContext, recorder: StageRecorder, revoker: ProviderRevoker?,
        tally: inout UsersTally
    ) async throws {
        var state = UserRowsState(tenant: user.tenant, user: user.user, rows: [])
        try context.store.forEach(tenant: user.tenant, user: user.user) { row in
            state.rows.append((row.key.provider, row.sealedToken != nil))
            return true
        }
        let plan = RevokePlanner.plan(state, mode: options.mode)
        if plan.isAlreadyRevoked {
            tally.already += 1
            recorder.passItem(user.description, "already revoked")
            return
        }
        if !context.dryRun {
            for provider in plan.providers {
                let key = TokenKey(tenant: user.tenant, user: user.user, provider: provider)
                if let revoker, let row = try context.store.get(key), row.sealedToken != nil {
                    _ = try await revoker.revoke(row)
                }
                switch options.mode {
                case .deleteRecord: _ = try context.store.delete(key)
                case .dropRefreshToken: _ = try context.store.dropRefreshToken(key, now: context.clock())
                }
            }
        }
        tally.revoked += 1
        tally.rows += plan.providers.count
        recorder.passItem(
            user.description,
            "\(context.dryRun ? "would revoke" : "revoked") (\(plan.providers.joined(separator: ", ")))")
    }

    /// Records a tenant's user counts and returns its one-line summary.
    private func record(_ tally: UsersTally, recorder: StageRecorder, dryRun: Bool) -> String {
        recorder.count(.usersRevoked, tally.revoked)
        recorder.count(.usersAlreadyRevoked, tally.already)
        if tally.failed > 0 { recorder.count(.usersFailed, tally.failed) }
        let rows = tally.rows
        recorder.count(options.mode == .deleteRecord ? .rowsDeleted : .tokensDropped, dryRun ? 0 : rows)
        let deleting = options.mode == .deleteRecord
        let message =
            dryRun
            ? "would revoke \(CountText.of(tally.revoked, "user")) (\(deleting ? CountText.of(rows, "record") + " to delete" : CountText.of(rows, "refresh token") + " to drop"))"
            : "revoked \(CountText.of(tally.revoked, "user")) (\(CountText.number(rows)) \(deleting ? "record\(rows == 1 ? "" : "s") deleted" : "refresh token\(rows == 1 ? "" : "s") dropped"))"
        return message + ", \(CountText.number(tally.already)) already revoked"
    }

    /// `items` without repeats, in first-seen order.
    private static func unique<T: Hashable>(_ items: [T]) -> [T] {
        var seen = Set<T>()
        return items.filter { seen.insert($0).inserted }
    }
}

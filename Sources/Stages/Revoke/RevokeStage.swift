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
                revoker = try ProviderRevoker(providers: providers, environment: context.environment, custodian: context.custodian)
            } catch {
                recorder.error("at_provider", error)
                return recorder.finish(summary: "not run: the providers' client secrets could not be read", at: context.clock())
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
        users = Self.unique(users)
        context.progress.begin(stage: name, total: options.tenants.count + users.count, unit: "items")
        for tenant in Self.unique(options.tenants) {
            await revokeTenant(tenant, context: context, recorder: recorder, revoker: revoker)
            context.progress.advance(1)
        }
        let byTenant = Dictionary(grouping: users, by: \.tenant)
        for tenant in Self.unique(users.map(\.tenant)) {
            await revokeUsers(of: tenant, byTenant[tenant]!, context: context, recorder: recorder, revoker: revoker)
        }
        let verb = context.dryRun ? "would revoke" : "revoked"
        var parts: [String] = []
        if !options.tenants.isEmpty {
            let count = CountText.of(recorder.value(of: .tenantsRevoked), "tenant")
            parts.append((context.dryRun ? "would revoke \(count)" : "\(count) \(verb)")
                         + ", \(CountText.number(recorder.value(of: .tenantsAlreadyRevoked))) already revoked")
        }
        if !users.isEmpty {
            let count = CountText.of(recorder.value(of: .usersRevoked), "user")
            parts.append((context.dryRun ? "would revoke \(count)" : "\(count) \(verb)")
                         + ", \(CountText.number(recorder.value(of: .usersAlreadyRevoked))) already revoked")
        }
        if recorder.value(of: .usersFailed) + recorder.value(of: .tenantsFailed) > 0 {
            parts.append("\(CountText.number(recorder.value(of: .usersFailed) + recorder.value(of: .tenantsFailed))) failed")
        }
        let summary = parts.isEmpty ? "nothing to revoke" : parts.joined(separator: "; ")
        return recorder.finish(summary: summary, at: context.clock())
    }

    // MARK: - Tenants

    private func revokeTenant(_ tenant: String, context: StageContext, recorder: StageRecorder, revoker: ProviderRevoker?) async {
        let started = Date()
        do {
            let secret = try context.vault.secretState(tenant)
            let rows = try context.store.count(tenant: tenant)
            let plan = RevokePlanner.plan(TenantSecretState(tenant: tenant, secret: secret, rows: rows), purge: options.purge)
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
                // At the provider first, while the tenant's key can still open the tokens.
                var rows: [StoredToken] = []
                try context.store.forEach(tenant: tenant) { rows.append($0); return true }
                var revokedThere = 0
                for row in rows where row.sealedToken != nil {
                    do {
                        if try await revoker.revoke(row) { revokedThere += 1 }
                    } catch {
                        recorder.fail(row.key.description, error)
                    }
                }
                if revokedThere > 0 { done.append("\(CountText.of(revokedThere, "token")) revoked at the provider") }
            }
            // The secret goes first: from that instant no token of the tenant can be opened.
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
            recorder.count(.tenantsRevoked)
            recorder.note("\(tenant): \(done.joined(separator: ", "))")
            recorder.pass(tenant, done.joined(separator: ", "), duration: Date().timeIntervalSince(started))
        } catch {
            recorder.count(.tenantsFailed)
            recorder.fail(tenant, error, duration: Date().timeIntervalSince(started))
        }
    }

    // MARK: - Users

    private func revokeUsers(of tenant: String, _ users: [TenantUser], context: StageContext, recorder: StageRecorder,
                             revoker: ProviderRevoker?) async {
        let started = Date()
        var revoked = 0, already = 0, failed = 0, rows = 0
        for user in users {
            defer { context.progress.advance(1) }
            do {
                var state = UserRowsState(tenant: user.tenant, user: user.user, rows: [])
                try context.store.forEach(tenant: user.tenant, user: user.user) { row in
                    state.rows.append((row.key.provider, row.sealedToken != nil))
                    return true
                }
                let plan = RevokePlanner.plan(state, mode: options.mode)
                if plan.isAlreadyRevoked {
                    already += 1
                    recorder.passItem(user.description, "already revoked")
                    continue
                }
                if !context.dryRun {
                    for provider in plan.providers {
                        let key = TokenKey(tenant: user.tenant, user: user.user, provider: provider)
                        if let revoker, let row = try context.store.get(key), row.sealedToken != nil {
                            // A failure here throws: the record stays, so the next run tries the provider again.
                            _ = try await revoker.revoke(row)
                        }
                        switch options.mode {
                        case .deleteRecord: _ = try context.store.delete(key)
                        case .dropRefreshToken: _ = try context.store.dropRefreshToken(key, now: context.clock())
                        }
                    }
                }
                revoked += 1
                rows += plan.providers.count
                recorder.passItem(user.description, "\(context.dryRun ? "would revoke" : "revoked") (\(plan.providers.joined(separator: ", ")))")
            } catch {
                failed += 1
                recorder.fail(user.description, error)
            }
        }
        recorder.count(.usersRevoked, revoked)
        recorder.count(.usersAlreadyRevoked, already)
        if failed > 0 { recorder.count(.usersFailed, failed) }
        recorder.count(options.mode == .deleteRecord ? .rowsDeleted : .tokensDropped, context.dryRun ? 0 : rows)
        let action = options.mode == .deleteRecord ? "record\(rows == 1 ? "" : "s") deleted" : "refresh token\(rows == 1 ? "" : "s") dropped"
        var message = context.dryRun
            ? "would revoke \(CountText.of(revoked, "user")) (\(options.mode == .deleteRecord ? CountText.of(rows, "record") + " to delete" : CountText.of(rows, "refresh token") + " to drop"))"
            : "revoked \(CountText.of(revoked, "user")) (\(CountText.number(rows)) \(action))"
        message += ", \(CountText.number(already)) already revoked"
        if failed > 0 {
            recorder.fail(tenant, type: recorder.cases.last?.failureType ?? .unexpected,
                          message: "\(message); \(CountText.of(failed, "user")) failed (see the item cases)", duration: Date().timeIntervalSince(started))
        } else {
            recorder.pass(tenant, message, duration: Date().timeIntervalSince(started))
        }
        recorder.note("\(tenant): \(message)")
    }

    /// `items` without repeats, in first-seen order.
    private static func unique<T: Hashable>(_ items: [T]) -> [T] {
        var seen = Set<T>()
        return items.filter { seen.insert($0).inserted }
    }
}

import Custody
import Foundation
import Identity
import Report
import Spec
import Store
import Support

/// The refresh stage: redeems the provider's refresh tokens that are due (refreshed more than
/// `refresh_after` ago, or expiring within `expiring_within`) and stores what comes back under the
/// tenant's newest key, committed before anything else (I8).
///
/// Each due row is leased first, so a web request and the job never redeem the same token at once
/// (I7). Dead tokens become needs_reauth with the provider's code; transient failures are retried with
/// backoff and jitter (Retry-After honoured; a 429 slows the whole stage). A refusal of the client is
/// weighed by ``RefreshBreaker``: one that is the same for every request (bad client credentials at a
/// tenant-independent endpoint) stops the stage at once instead of failing every token; one that
/// belongs to a tenant (the app removed from that customer's tenant) fails that tenant only, its other
/// tokens not tried, and the other tenants go on; the report says which. A row left leased by a
/// run that died mid-request is not redeemed again (the provider may have rotated it, and redeeming a
/// rotated token would revoke its whole family): it is reported as needs_reauth. So is a row whose
/// request to a rotating provider got no answer (timeout, dropped connection), unless no connection was
/// ever made.

package struct RefreshStage {
    package let name: String
    package let options: RefreshOptions
    package let provider: ProviderSpec

    /// Creates the stage from its spec.
    package init(name: String, options: RefreshOptions, provider: ProviderSpec) {
        self.name = name
        self.options = options
        self.provider = provider
    }

    /// Plans or applies the stage; one case per tenant plus one per failed token.
    package func run(_ context: StageContext) async -> StageReport {
        let recorder = StageRecorder(name: name, kind: .refresh, startedAt: context.clock(), detail: context.detail)
        let profile = ProviderProfile(provider)
        let now = context.clock()
        var stopReason: String?
        do {
            switch profile.lifecycle {
            case .neverExpires:
                try reportNeverExpiring(context, recorder: recorder)
            case .reconsentBeforeExpiry(let lifetime):
                try reportReconsent(context, lifetime: lifetime, now: now, recorder: recorder)
            case .refreshable(let rotates):
                stopReason = try await refresh(
                    context, profile: profile, rotates: rotates, now: now, recorder: recorder)
            }
        } catch {
            recorder.error(provider.name, error)
        }
        return recorder.finish(
            summary: summary(recorder, dryRun: context.dryRun, stopReason: stopReason), at: context.clock())
    }

    /// One line: what was done, or `stopped: WHY` when a refusal stopped the stage.
    private func summary(_ recorder: StageRecorder, dryRun: Bool, stopReason: String?) -> String {
        if let stopReason { return "stopped: \(stopReason)" }
        if let stop = recorder.cases.first(where: { $0.failureType == .configuration && $0.status == .errored }) {
            return "stopped: \(stop.message)"
        }
        let refused = recorder.value(of: .tenantsRefused)
        var parts: [String] = []
        if dryRun {
            parts.append("would refresh \(CountText.of(recorder.value(of: .tokensDue), "token"))")
        } else {
            parts.append("\(CountText.of(recorder.value(of: .tokensRefreshed), "token")) refreshed")
        }
        let countTexts: [(StageCount, String)] = [
            (.tokensUpToDate, "up to date"), (.tokensReauthRequired, "need the user to sign in again"),
            (.tokensTransient, "failed for now (retried next run)"), (.tokensLeasedElsewhere, "in use elsewhere"),
            (.tokensFailed, "failed"),
        ]
        for (count, text) in countTexts where recorder.value(of: count) > 0 {
            parts.append("\(CountText.number(recorder.value(of: count))) \(text)")
        }
        if refused > 0 {
            parts.append(
                "\(CountText.of(refused, "tenant")) refused the client (\(CountText.of(recorder.value(of: .tokensNotTried), "token")) "
                    + "not tried; the other tenants went on)")
        }
        return parts.joined(separator: ", ")
    }

    // MARK: - Providers without refresh

    /// X: OAuth 1.0a user tokens do not expire; every active token is up to date.
    private func reportNeverExpiring(_ context: StageContext, recorder: StageRecorder) throws {
        var perTenant: [String: Int] = [:]
        try context.store.forEach(provider: provider.name, status: .active) { row in
            if context.shard.contains(row.key.tenant) { perTenant[row.key.tenant, default: 0] += 1 }
            return true
        }
        for tenant in perTenant.keys.sorted() {
            recorder.pass(
                tenant,
                "\(CountText.of(perTenant[tenant]!, "token")) up to date (\(provider.kind.rawValue) tokens do not expire)"
            )
            recorder.count(.tokensUpToDate, perTenant[tenant]!)
        }
    }

    /// Facebook: no refresh tokens; long-lived tokens expire after 60 days, so each one nearing its date
    /// is reported as needing the user's consent again before then.
    private func reportReconsent(_ context: StageContext, lifetime: TimeInterval, now: Date, recorder: StageRecorder)
        throws
    {
        let horizon = now.addingTimeInterval(options.expiringWithin ?? 14 * 86_400)
        var perTenant: [String: (ok: Int, due: Int)] = [:]
        try context.store.forEach(provider: provider.name, status: .active) { row in
            guard context.shard.contains(row.key.tenant) else { return true }
            let expires = row.expiresAt ?? row.refreshedAt.addingTimeInterval(lifetime)
            if expires < horizon {
                perTenant[row.key.tenant, default: (0, 0)].due += 1
                recorder.fail(
                    row.key.description, type: .reauthRequired, code: "reconsent_due",
                    message:
                        "\(row.key): the long-lived token expires on \(DateText.day(expires)) and cannot be refreshed; "
                        + "ask the user to sign in (consent) again before then")
            } else {
                perTenant[row.key.tenant, default: (0, 0)].ok += 1
            }
            return true
        }
        for tenant in perTenant.keys.sorted() {
            let (ok, due) = perTenant[tenant]!
            recorder.count(.tokensUpToDate, ok)
            recorder.count(.tokensReauthRequired, due)
            let message =
                "\(CountText.of(ok, "token")) valid beyond the window, \(CountText.number(due)) need consent again"
            if due > 0 {
                recorder.fail(tenant, type: .reauthRequired, code: "reconsent_due", message: message)
            } else {
                recorder.pass(tenant, message)
            }
        }
    }

    // MARK: - Refreshing

    /// Refreshes the due rows; returns why the stage stopped early, if a refusal stopped it.
    private func refresh(
        _ context: StageContext, profile: ProviderProfile, rotates: Bool, now: Date,
        recorder: StageRecorder
    ) async throws -> String? {
        let refreshedBefore = now.addingTimeInterval(-options.refreshAfter)
        let expiringBefore = options.expiringWithin.map { now.addingTimeInterval($0) }
        let pace = context.shard.share(of: options.maxRate)
        if let pace, !context.shard.isWhole {
            recorder.note(
                "paced at \(Self.rateText(pace)): max_rate \(Self.rateText(options.maxRate!)) is the whole job's, "
                    + "shared by \(context.shard.count) shards")
        }
        if context.dryRun {
            let perTenant = try dueRowsPerTenant(
                context, refreshedBefore: refreshedBefore, expiringBefore: expiringBefore, now: now)
            recorder.count(.tokensDue, perTenant.values.reduce(0, +))
            for tenant in perTenant.keys.sorted() {
                recorder.pass(tenant, "would refresh \(CountText.of(perTenant[tenant]!, "token"))")
            }
            return nil
        }
        // Sharded, the due rows of this shard are counted by walking the due rows (the store has no
        // statement that knows the tenant hash); unsharded, the store counts them.
        let due =
            context.shard.isWhole
            ? try context.store.countDueForRefresh(
                provider: provider.name, refreshedBefore: refreshedBefore,
                expiringBefore: expiringBefore, now: now)
            : try dueRowsPerTenant(context, refreshedBefore: refreshedBefore, expiringBefore: expiringBefore, now: now)
                .values.reduce(0, +)
        recorder.count(.tokensDue, due)
        let secret = try provider.clientSecret.map { try $0.resolve(environment: context.environment) }
        context.progress.begin(stage: name, total: due, unit: "tokens")
        let collector = RefreshCollector(progress: context.progress)
        let worker = RefreshWorker(
            vault: context.vault, sessions: TokenStoreSessions(context.store), profile: profile, rotates: rotates,
            clientSecret: secret,
            options: options, leaseOwner: context.leaseOwner, pacer: RequestPacer(maxRate: pace),
            clients: OAuthClientCache(), collector: collector, clock: context.clock)
        let feeder = try DueRowFeeder(
            sessions: TokenStoreSessions(context.store), provider: provider.name, refreshedBefore: refreshedBefore,
            expiringBefore: expiringBefore, now: now, shard: context.shard)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<options.concurrency {
                group.addTask { try await worker.work(feeder: feeder) }
            }
            try await group.waitForAll()
        }
        let stoppedBy = collector.stoppedBy
        record(collector.all, stoppedBy: stoppedBy, refusals: collector.refusals, recorder: recorder)
        let slowdowns = await worker.pacer.slowdowns
        if slowdowns > 0 {
            recorder.count(.rateLimited, slowdowns)
            recorder.note(
                "the provider asked to slow down \(CountText.of(slowdowns, "time")); the stage's rate was halved each time"
            )
        }
        return stoppedBy.map { "\($0.reason): \($0.error.problem)" }
    }

    /// The due rows of the run's shard, counted per tenant, read a page at a time.
    private func dueRowsPerTenant(
        _ context: StageContext, refreshedBefore: Date, expiringBefore: Date?, now: Date
    ) throws -> [String: Int] {
        var perTenant: [String: Int] = [:]
        var afterID: Int64 = 0
        while true {
            let page = try context.store.rowsDueForRefresh(
                provider: provider.name, refreshedBefore: refreshedBefore,
                expiringBefore: expiringBefore, now: now, afterID: afterID, limit: 1_000)
            guard let last = page.last else { break }
            afterID = last.id
            for row in page where context.shard.contains(row.key.tenant) { perTenant[row.key.tenant, default: 0] += 1 }
        }
        return perTenant
    }

    /// `2.5/s`: a rate for the report, at most three decimals.
    static func rateText(_ rate: Double) -> String {
        let rounded = (rate * 1_000).rounded() / 1_000
        return rounded == rounded.rounded() ? "\(Int(rounded))/s" : "\(rounded)/s"
    }

    /// Turns the workers' outcomes into cases: one per tenant, one per failed token. A tenant the provider
    /// refused the client for fails with that refusal, and says that only it failed; a refusal that
    /// stopped the stage is one errored case that says the stage stopped.
    private func record(
        _ outcomes: [RefreshOutcome], stoppedBy: (error: OAuthError, reason: String)?, refusals: [String: OAuthError],
        recorder: StageRecorder
    ) {
        /// Per tenant: tokens refreshed, failed (with the first failure's type), leased elsewhere, not tried.
        struct TenantTally {
            var refreshed = 0, failed = 0, leased = 0, notTried = 0
            var firstFailure: FailureType?
        }
        var perTenant: [String: TenantTally] = [:]
        for outcome in outcomes.sorted(by: { $0.key.description < $1.key.description }) {
            let tenant = outcome.key.tenant
            switch outcome {
            case .refreshed(let key):
                perTenant[tenant, default: TenantTally()].refreshed += 1
                recorder.count(.tokensRefreshed)
                recorder.passItem(key.description, "refreshed")
            case .leasedElsewhere(let key):
                perTenant[tenant, default: TenantTally()].leased += 1
                recorder.count(.tokensLeasedElsewhere)
                recorder.passItem(key.description, "in use elsewhere (leased); left for the next run")
            case .notTried:
                perTenant[tenant, default: TenantTally()].notTried += 1
                recorder.count(.tokensNotTried)
            case .failed(let key, let type, let code, let message):
                perTenant[tenant, default: TenantTally()].failed += 1
                if perTenant[tenant]!.firstFailure == nil { perTenant[tenant]!.firstFailure = type }
                recorder.count(
                    type == .reauthRequired
                        ? .tokensReauthRequired : type == .transient ? .tokensTransient : .tokensFailed)
                recorder.fail(key.description, type: type, code: code, message: message)
            }
        }
        for tenant in perTenant.keys.sorted() {
            let tally = perTenant[tenant]!
            var message = "\(CountText.of(tally.refreshed, "token")) refreshed"
            if tally.leased > 0 { message += ", \(CountText.number(tally.leased)) in use elsewhere" }
            if let refusal = refusals[tenant] {
                recorder.count(.tenantsRefused)
                let reach =
                    stoppedBy == nil
                    ? "only this tenant failed, the stage went on with the other tenants"
                    : "this tenant failed, and then the same refusal from other tenants stopped the stage"
                recorder.fail(
                    tenant, type: .configuration, code: refusal.reportCode,
                    message:
                        "\(reach) (\(message), \(CountText.number(tally.failed)) failed, \(CountText.number(tally.notTried)) "
                        + "not tried): the provider refused the client for this tenant: \(refusal.problem). \(refusal.remedy)"
                )
            } else if let type = tally.firstFailure {
                recorder.fail(
                    tenant, type: type,
                    message: message + ", \(CountText.number(tally.failed)) failed (see the item cases)")
            } else {
                recorder.pass(tenant, message)
            }
        }
        if let (error, reason) = stoppedBy {
            recorder.error(
                provider.name, type: .configuration, code: error.reportCode,
                message: "the stage stopped: \(reason); no further token was tried. \(error.description)")
        }
    }
}

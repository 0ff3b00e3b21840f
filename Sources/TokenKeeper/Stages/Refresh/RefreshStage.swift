import Foundation

/// The refresh stage: redeems the provider's refresh tokens that are due (refreshed more than
/// `refresh_after` ago, or expiring within `expiring_within`) and stores what comes back under the
/// tenant's newest key, committed before anything else (I8).
///
/// Each due row is leased first, so a web request and the job never redeem the same token at once
/// (I7). Dead tokens become needs_reauth with the provider's code; transient failures are retried with
/// backoff and jitter (Retry-After honoured; a 429 slows the whole stage); a configuration error (bad
/// client credentials) stops the stage at once instead of failing every token. A row left leased by a
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
        let recorder = StageRecorder(name: name, kind: "refresh", startedAt: context.clock(), detail: context.detail)
        let profile = ProviderProfile(provider)
        let now = context.clock()
        do {
            switch profile.lifecycle {
            case .neverExpires:
                try reportNeverExpiring(context, recorder: recorder)
            case .reconsentBeforeExpiry(let lifetime):
                try reportReconsent(context, lifetime: lifetime, now: now, recorder: recorder)
            case .refreshable(let rotates):
                try await refresh(context, profile: profile, rotates: rotates, now: now, recorder: recorder)
            }
        } catch {
            recorder.error(provider.name, error)
        }
        return recorder.finish(summary: summary(recorder, dryRun: context.dryRun), at: context.clock())
    }

    private func summary(_ recorder: StageRecorder, dryRun: Bool) -> String {
        if let stop = recorder.cases.first(where: { $0.failureType == .configuration && $0.status == .errored }) {
            return "stopped: \(stop.message)"
        }
        var parts: [String] = []
        if dryRun {
            parts.append("would refresh \(CountText.of(recorder.value(of: "tokens_due"), "token"))")
        } else {
            parts.append("\(CountText.of(recorder.value(of: "tokens_refreshed"), "token")) refreshed")
        }
        for (count, text) in [("tokens_up_to_date", "up to date"), ("tokens_reauth_required", "need the user to sign in again"),
                              ("tokens_transient", "failed for now (retried next run)"), ("tokens_leased_elsewhere", "in use elsewhere"),
                              ("tokens_failed", "failed")] where recorder.value(of: count) > 0 {
            parts.append("\(CountText.number(recorder.value(of: count))) \(text)")
        }
        return parts.joined(separator: ", ")
    }

    // MARK: - Providers without refresh

    /// X: OAuth 1.0a user tokens do not expire; every active token is up to date.
    private func reportNeverExpiring(_ context: StageContext, recorder: StageRecorder) throws {
        var perTenant: [String: Int] = [:]
        try context.store.forEach(provider: provider.name, status: .active) { row in
            perTenant[row.key.tenant, default: 0] += 1
            return true
        }
        for tenant in perTenant.keys.sorted() {
            recorder.pass(tenant, "\(CountText.of(perTenant[tenant]!, "token")) up to date (\(provider.kind.rawValue) tokens do not expire)")
            recorder.count("tokens_up_to_date", perTenant[tenant]!)
        }
    }

    /// Facebook: no refresh tokens; long-lived tokens expire after 60 days, so each one nearing its date
    /// is reported as needing the user's consent again before then.
    private func reportReconsent(_ context: StageContext, lifetime: TimeInterval, now: Date, recorder: StageRecorder) throws {
        let horizon = now.addingTimeInterval(options.expiringWithin ?? 14 * 86_400)
        var perTenant: [String: (ok: Int, due: Int)] = [:]
        try context.store.forEach(provider: provider.name, status: .active) { row in
            let expires = row.expiresAt ?? row.refreshedAt.addingTimeInterval(lifetime)
            if expires < horizon {
                perTenant[row.key.tenant, default: (0, 0)].due += 1
                recorder.fail(row.key.description, type: .reauthRequired, code: "reconsent_due",
                              message: "\(row.key): the long-lived token expires on \(DateText.day(expires)) and cannot be refreshed; "
                                  + "ask the user to sign in (consent) again before then")
            } else {
                perTenant[row.key.tenant, default: (0, 0)].ok += 1
            }
            return true
        }
        for tenant in perTenant.keys.sorted() {
            let (ok, due) = perTenant[tenant]!
            recorder.count("tokens_up_to_date", ok)
            recorder.count("tokens_reauth_required", due)
            let message = "\(CountText.of(ok, "token")) valid beyond the window, \(CountText.number(due)) need consent again"
            if due > 0 { recorder.fail(tenant, type: .reauthRequired, code: "reconsent_due", message: message) } else { recorder.pass(tenant, message) }
        }
    }

    // MARK: - Refreshing

    private func refresh(_ context: StageContext, profile: ProviderProfile, rotates: Bool, now: Date, recorder: StageRecorder) async throws {
        let refreshedBefore = now.addingTimeInterval(-options.refreshAfter)
        let expiringBefore = options.expiringWithin.map { now.addingTimeInterval($0) }
        if context.dryRun {
            var perTenant: [String: Int] = [:]
            var afterID: Int64 = 0
            while true {
                let page = try context.store.rowsDueForRefresh(provider: provider.name, refreshedBefore: refreshedBefore,
                                                               expiringBefore: expiringBefore, now: now, afterID: afterID, limit: 1_000)
                guard let last = page.last else { break }
                afterID = last.id
                for row in page { perTenant[row.key.tenant, default: 0] += 1 }
            }
            recorder.count("tokens_due", perTenant.values.reduce(0, +))
            for tenant in perTenant.keys.sorted() { recorder.pass(tenant, "would refresh \(CountText.of(perTenant[tenant]!, "token"))") }
            return
        }
        let due = try context.store.countDueForRefresh(provider: provider.name, refreshedBefore: refreshedBefore,
                                                       expiringBefore: expiringBefore, now: now)
        recorder.count("tokens_due", due)
        let secret = try provider.clientSecret.map { try $0.resolve(environment: context.environment) }
        context.progress.begin(stage: name, total: due, unit: "tokens")
        let collector = RefreshCollector(progress: context.progress)
        let worker = RefreshWorker(
            vault: context.vault, storePath: context.store.path, profile: profile, rotates: rotates, clientSecret: secret,
            options: options, leaseOwner: "job \(context.runID)", pacer: RequestPacer(maxRate: options.maxRate),
            clients: OAuthClientCache(), collector: collector, clock: context.clock)
        let feeder = try DueRowFeeder(storePath: context.store.path, provider: provider.name, refreshedBefore: refreshedBefore,
                                      expiringBefore: expiringBefore, now: now)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<options.concurrency {
                group.addTask { try await worker.work(feeder: feeder) }
            }
            try await group.waitForAll()
        }
        record(collector.all, stoppedBy: collector.stoppedBy, recorder: recorder)
        let slowdowns = await worker.pacer.slowdowns
        if slowdowns > 0 {
            recorder.count("rate_limited", slowdowns)
            recorder.note("the provider asked to slow down \(CountText.of(slowdowns, "time")); the stage's rate was halved each time")
        }
    }

    /// Turns the workers' outcomes into cases: one per tenant, one per failed token.
    private func record(_ outcomes: [RefreshOutcome], stoppedBy: OAuthError?, recorder: StageRecorder) {
        /// Per tenant: tokens refreshed, failed (with the first failure's type), and leased elsewhere.
        struct TenantTally {
            var refreshed = 0, failed = 0, leased = 0
            var firstFailure: FailureType?
        }
        var perTenant: [String: TenantTally] = [:]
        for outcome in outcomes.sorted(by: { $0.key.description < $1.key.description }) {
            let tenant = outcome.key.tenant
            switch outcome {
            case .refreshed(let key):
                perTenant[tenant, default: TenantTally()].refreshed += 1
                recorder.count("tokens_refreshed")
                recorder.passItem(key.description, "refreshed")
            case .leasedElsewhere(let key):
                perTenant[tenant, default: TenantTally()].leased += 1
                recorder.count("tokens_leased_elsewhere")
                recorder.passItem(key.description, "in use elsewhere (leased); left for the next run")
            case .failed(let key, let type, let code, let message):
                perTenant[tenant, default: TenantTally()].failed += 1
                if perTenant[tenant]!.firstFailure == nil { perTenant[tenant]!.firstFailure = type }
                recorder.count(type == .reauthRequired ? "tokens_reauth_required" : type == .transient ? "tokens_transient" : "tokens_failed")
                recorder.fail(key.description, type: type, code: code, message: message)
            }
        }
        for tenant in perTenant.keys.sorted() {
            let tally = perTenant[tenant]!
            var message = "\(CountText.of(tally.refreshed, "token")) refreshed"
            if tally.leased > 0 { message += ", \(CountText.number(tally.leased)) in use elsewhere" }
            if let type = tally.firstFailure {
                recorder.fail(tenant, type: type, message: message + ", \(CountText.number(tally.failed)) failed (see the item cases)")
            } else {
                recorder.pass(tenant, message)
            }
        }
        if let stoppedBy {
            recorder.error(provider.name, stoppedBy)
        }
    }
}

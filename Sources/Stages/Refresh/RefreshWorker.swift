import Custody
import Foundation
import Identity
import Report
import Spec
import Store
import Support
import Vault

/// One of the refresh stage's concurrent workers: takes due rows from the feeder and refreshes each.
///
/// Every worker opens its own store connection (SQLite connections are not shared between threads);
/// the vault, the pacer, the client cache and the collector are shared and safe to share.

struct RefreshWorker: Sendable {
    let vault: any KeyVault
    let sessions: TokenStoreSessions
    let profile: ProviderProfile
    let rotates: Bool
    let clientSecret: SecretText?
    let options: RefreshOptions
    let leaseOwner: String
    let pacer: RequestPacer
    let clients: OAuthClientCache
    let collector: RefreshCollector
    let clock: @Sendable () -> Date

    /// Refreshes due rows until there are none left or the stage is stopped.
    func work(feeder: DueRowFeeder) async throws {
        let custodian = TokenCustodian(vault: vault, store: try sessions.open())
        while collector.stoppedBy == nil, let row = try await feeder.next() {
            collector.add(await refresh(row, custodian: custodian))
        }
    }

    /// Marks the row needs_reauth while it still holds the token this worker found dead or in doubt.
    private func markNeedsReauth(_ row: StoredToken, _ code: String?, store: any TokenStore) throws {
        guard let token = row.sealedToken else { return }
        try store.markNeedsReauth(row.key, errorCode: code, now: clock(), ifStillHolding: token)
    }

    /// Refreshes one row: lease, open, redeem (with retries), commit under the newest key.
    func refresh(_ row: StoredToken, custodian: TokenCustodian) async -> RefreshOutcome {
        let key = row.key
        let store = custodian.store
        do {
            if let previous = row.leaseOwner {
                // Leased by a holder whose lease ran out: it died mid-request, and the provider may have
                // rotated the token. Redeeming it again could revoke the whole family; ask for a sign-in.
                try markNeedsReauth(row, "interrupted_refresh", store: store)
                return .failed(
                    key, .reauthRequired, code: "interrupted_refresh",
                    message:
                        "\(key): a refresh by \(previous) was interrupted, so the provider may have rotated this token; "
                        + "it is not redeemed again (that could revoke its family). The user must sign in again.")
            }
            if collector.refusal(of: key.tenant) != nil { return .notTried(key) }
            guard
                try store.acquireLease(
                    key, owner: leaseOwner, until: clock().addingTimeInterval(options.lease), now: clock())
            else {
                return .leasedElsewhere(key)
            }
            // The row as it is now, under this lease: the feeder's copy may be older than a refresh that token
            // use (another process, another host) committed meanwhile, and redeeming that older token would
            // redeem it a second time (a provider with reuse detection then revokes the whole family).
            guard let current = try store.get(key), current.sealedToken == row.sealedToken else {
                try? store.releaseLease(key, owner: leaseOwner)
                return .leasedElsewhere(key)
            }
            let token: SecretText
            do {
                token = try custodian.open(row)
            } catch {
                try? store.releaseLease(key, owner: leaseOwner)
                let (type, code, message) = FailureClassifier.classify(error)
                return .failed(key, type, code: code, message: message)
            }
            guard
                let settings = profile.clientSettings(
                    tenant: key.tenant, clientSecret: clientSecret, requestTimeout: options.requestTimeout)
            else {
                try? store.releaseLease(key, owner: leaseOwner)
                return .failed(
                    key, .configuration, code: "no_token_endpoint",
                    message: "provider \(profile.spec.name) has no token endpoint; add token_endpoint")
            }
            return try await redeem(row, token: token, client: clients.client(for: settings), custodian: custodian)
        } catch {
            try? store.releaseLease(key, owner: leaseOwner)
            let (type, code, message) = FailureClassifier.classify(error)
            return .failed(key, type, code: code, message: message)
        }
    }

    /// Redeems the token, retrying transient failures, and commits the answer at once (I8).
    private func redeem(_ row: StoredToken, token: SecretText, client: OAuthClient, custodian: TokenCustodian)
        async throws -> RefreshOutcome
    {
        let key = row.key
        let store = custodian.store
        let policy = RetryPolicy(retries: options.retries)
        var attempt = 0
        while true {
            try await pacer.acquire()
            do {
                let response = try await client.refresh(token, scope: profile.spec.scope)
                // Commit before anything else: a rotating provider has just invalidated the old token.
                let commit = try await custodian.commitRedeemed(
                    row, owner: leaseOwner, response: response, usedToken: token, at: clock())
                guard commit != .leaseLost else {
                    return .failed(
                        key, .transient, code: "lease_lost",
                        message:
                            "\(key): the lease ran out before the answer came, and another holder changed the row; "
                            + "raise the stage's lease above request_timeout × (retries + 1)")
                }
                await pacer.succeeded()
                return .refreshed(key)
            } catch let error as OAuthError {
                switch error.kind {
                case .deadToken:
                    try markNeedsReauth(row, error.reportCode, store: store)
                    return .failed(
                        key, .reauthRequired, code: error.reportCode, message: "\(key): \(error.description)")
                case .configuration:
                    // What it stops (the stage, the tenant, or this token) the collector's breaker decides;
                    // only a refusal of this one token is the token's own, and counts against it.
                    if collector.refused(error, tenant: key.tenant) == .failToken {
                        try store.recordFailure(key, errorCode: error.reportCode, now: clock())
                    }
                    try? store.releaseLease(key, owner: leaseOwner)
                    return .failed(key, .configuration, code: error.reportCode, message: "\(key): \(error.description)")
                case .transient:
                    if error.status == 429 || error.retryAfter != nil {
                        await pacer.slowDown(retryAfter: error.retryAfter)
                    }
                    attempt += 1
                    if error.status == 0 && rotates && error.mayHaveReachedProvider {
                        // No answer from a rotating provider that may have had the request: it may have rotated
                        // the token before the answer was lost, and redeeming the old one again, in this run or
                        // a later one, could revoke the family. Keep it, never redeem it again (as for a row
                        // left leased by a dead run).
                        try markNeedsReauth(row, "unanswered_refresh", store: store)
                        return .failed(
                            key, .reauthRequired, code: "unanswered_refresh",
                            message:
                                "\(key): \(error.item): \(error.problem) (after \(CountText.of(attempt, "attempt"))); "
                                + "the provider may have rotated this token before its answer was lost, so it is not redeemed "
                                + "again (that could revoke its family). The user must sign in again.")
                    }
                    if attempt > options.retries {
                        try store.recordFailure(key, errorCode: error.reportCode, now: clock())
                        try? store.releaseLease(key, owner: leaseOwner)
                        return .failed(
                            key, .transient, code: error.reportCode,
                            message: "\(key): \(error.description) (after \(CountText.of(attempt, "attempt")))")
                    }
                    try await Task.sleep(for: .seconds(policy.delay(attempt: attempt, retryAfter: error.retryAfter)))
                }
            }
        }
    }
}

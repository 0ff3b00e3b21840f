import Custody
import Foundation
import Identity
import Report
import Store

/// What happened to one token in the refresh stage, gathered from the workers into the report.

enum RefreshOutcome: Sendable {
    /// Redeemed; the new refresh token is committed under the tenant's newest key.
    case refreshed(TokenKey)
    /// Not attempted: another holder (a web request, another job) has the row's lease.
    case leasedElsewhere(TokenKey)
    /// Not attempted: the provider refused the client for the row's tenant earlier in the run.
    case notTried(TokenKey)
    /// Failed for a known reason.
    case failed(TokenKey, FailureType, code: String?, message: String)

    var key: TokenKey {
        switch self {
        case .refreshed(let key), .leasedElsewhere(let key), .notTried(let key), .failed(let key, _, _, _): key
        }
    }
}

/// Gathers outcomes and progress from concurrent workers. `@unchecked Sendable`: every access is under its lock.
final class RefreshCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [RefreshOutcome] = []
    private var stopError: OAuthError?
    private var stopReason = ""
    private var refusedTenants: [String: OAuthError] = [:]
    private var breaker = RefreshBreaker()
    private let progress: any StageProgress

    init(progress: any StageProgress) { self.progress = progress }

    /// Adds one outcome and advances the progress.
    func add(_ outcome: RefreshOutcome) {
        lock.lock()
        outcomes.append(outcome)
        if case .refreshed = outcome { breaker.refreshed() }
        progress.advance(1)
        lock.unlock()
    }

    /// A refusal by the provider (``OAuthFailureKind/configuration``) of a request for `tenant`: stops the
    /// stage (every worker stops before its next token), or the tenant (its other tokens are not tried),
    /// or nothing more than this token, as ``RefreshBreaker`` decides. Returns the decision.
    @discardableResult
    func refused(_ error: OAuthError, tenant: String) -> RefreshBreaker.Decision {
        lock.lock()
        defer { lock.unlock() }
        let decision = breaker.decide(error, tenant: tenant)
        switch decision {
        case .stopStage(let reason):
            if stopError == nil { (stopError, stopReason) = (error, reason) }
        case .failTenant:
            if refusedTenants[tenant] == nil { refusedTenants[tenant] = error }
        case .failToken:
            break
        }
        return decision
    }

    /// The error that stopped the stage and why it is taken to be the same for every request, if any.
    var stoppedBy: (error: OAuthError, reason: String)? {
        lock.lock()
        defer { lock.unlock() }
        return stopError.map { ($0, stopReason) }
    }

    /// The refusal that failed `tenant`, if the provider refused the client for it.
    func refusal(of tenant: String) -> OAuthError? {
        lock.lock()
        defer { lock.unlock() }
        return refusedTenants[tenant]
    }

    /// Every tenant the provider refused the client for, with its refusal.
    var refusals: [String: OAuthError] {
        lock.lock()
        defer { lock.unlock() }
        return refusedTenants
    }

    /// Everything gathered.
    var all: [RefreshOutcome] {
        lock.lock()
        defer { lock.unlock() }
        return outcomes
    }
}

/// Hands due rows to the workers, a page at a time, from its own store connection.
actor DueRowFeeder {
    private let store: any TokenStore
    private let provider: String
    private let refreshedBefore: Date
    private let expiringBefore: Date?
    private let now: Date
    private let shard: TenantShard
    private var buffer: [StoredToken] = []
    private var afterID: Int64 = 0
    private var exhausted = false

    init(
        sessions: TokenStoreSessions, provider: String, refreshedBefore: Date, expiringBefore: Date?, now: Date,
        shard: TenantShard = .whole
    ) throws {
        store = try sessions.open()
        self.shard = shard
        self.provider = provider
        self.refreshedBefore = refreshedBefore
        self.expiringBefore = expiringBefore
        self.now = now
    }

    /// The next due row of the shard, or nil when there are no more. Rows of other shards are passed
    /// over, never leased.
    func next() throws -> StoredToken? {
        while buffer.isEmpty, !exhausted {
            let page = try store.rowsDueForRefresh(
                provider: provider, refreshedBefore: refreshedBefore, expiringBefore: expiringBefore,
                now: now, afterID: afterID, limit: 256)
            if let last = page.last { afterID = last.id } else { exhausted = true }
            buffer = page.filter { shard.contains($0.key.tenant) }.reversed()
        }
        return buffer.popLast()
    }
}

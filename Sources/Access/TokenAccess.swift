import Custody
import Foundation
import Identity
import Spec
import Store
import Support
import Vault

/// What a web service gets when it asks for an access token: the token itself (never stored) and
/// what the provider said about it.

public struct AccessGrant: Sendable {
    /// The row the token belongs to.
    public var key: TokenKey
    /// The provider's kind (for header names).
    public var providerKind: ProviderSpec.Kind
    /// The access token, for the caller only.
    public var accessToken: SecretText
    /// When it expires, when known.
    public var expiresAt: Date?
    /// The id_token the provider returned, if any.
    public var idToken: String?
    /// The token type, usually `Bearer`.
    public var tokenType: String
    /// Whether the access token came from ``TokenAccess``'s memory (redeemed by an earlier call) rather
    /// than from a redemption for this call.
    public var fromCache: Bool = false
}

/// What `print` and `dump` show of a grant: never the access token nor the id_token.
extension AccessGrant: CustomStringConvertible, CustomReflectable {
    public var description: String {
        "AccessGrant(\(key), \(tokenType)" + (expiresAt.map { ", expires " + DateText.timestamp($0) } ?? "")
            + (fromCache ? ", from cache)" : ")")
    }
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "key": key, "providerKind": providerKind, "accessToken": accessToken, "expiresAt": expiresAt as Any,
                "idToken": idToken == nil ? "none" : "<redacted>", "tokenType": tokenType, "fromCache": fromCache,
            ],
            displayStyle: .struct)
    }
}

/// The path a web service takes: open the stored refresh token, redeem it for an access token, commit
/// any rotated refresh token at once, durable against a power cut too (I8), and hand back the access
/// token, which is never stored. Also
/// the On-Behalf-Of add-token sequence. `tokenkeeper token access` and `token obo` are this API.
///
/// Like App Service's token store and MSAL, it keeps each access token in memory (never on disk) per
/// (tenant, user, provider, scope) until the provider's `expires_in` minus a skew (``AccessTokenCaching``:
/// 5 minutes, 10,000 entries by default), and hands it out again instead of redeeming: a hit costs one
/// indexed read of the row, so a token that a job or another host has since revoked, dropped or marked
/// needs_reauth is not handed out. Concurrent callers of one key share one redemption; `forceRefresh`
/// redeems even when a cached token is valid (as App Service's `/.auth/refresh`). An access token already
/// handed out stays valid at the provider until it expires, whatever happens to the row: revocation
/// stops new ones, as with every OAuth provider.
///
/// It never takes the job lock (I7): it leases the row, so a nightly refresh and a user's request never
/// redeem the same token at once, and waits briefly when the job holds the row. The keys of secret
/// versions are cached per (secret, version) for the whole instance, since versions never change; per-token
/// data keys (DEKs) never are. Keep one instance for the life of the service (one per process): the
/// caches live in it.
///
/// Connections: one instance (one web host process) keeps a small pool of store sessions
/// (`storeSessions`, 4 by default), opened on demand and shared by all its concurrent requests, plus the
/// vault's one connection (a PostgreSQL vault serializes its calls on it), so a host opens at most
/// `storeSessions + 1` connections. A request that finds every session busy waits up to `sessionWait`
/// seconds, then fails with ``AccessError``; a session the server lost is closed and replaced by the next
/// request. Size PostgreSQL's `max_connections` as the README says (H hosts x (pool + 1) + the jobs).
/// The pooled sessions share one key cache, so the vault is asked once per key per process, not per session.
/// On SQLite the sessions are WAL connections: readers run in parallel, writers take turns on the file.
/// Thread-safe (hence `@unchecked Sendable`): a session serves one request at a time, the cache is
/// guarded by a lock, network calls hold no session.
public final class TokenAccess: @unchecked Sendable {
    private let spec: JobSpec
    private let pool: StoreSessionPool
    private let environment: [String: String]
    private let clients = OAuthClientCache()
    private let requestTimeout: TimeInterval
    private let leaseWait: TimeInterval
    private let clock: @Sendable () -> Date
    private let cacheLock = NSLock()
    private var cache: AccessTokenCache
    private let redemptions = SingleFlight<Redemption, AccessGrant>()

    /// What concurrent callers share: one redemption per cache key, forced refreshes apart (a forced
    /// refresh never takes a token from the cache, and one that is not forced may).
    private struct Redemption: Hashable, Sendable {
        var key: AccessTokenCache.Key
        var forced: Bool
    }

    /// Opens the spec's vault and store as the spec's principal (or `principal`).
    /// - Parameters:
    ///   - caching: how long and how many access tokens are kept in memory (``AccessTokenCaching/default``).
    ///   - clock: the time the cache goes by (tests move it); leases use the real time.
    ///   - storeSessions: the most store connections this instance opens (at least 1).
    ///   - sessionWait: how long a request waits for a free store session before it fails.
    /// - throws: the vault's, store's and master key's errors.
    public init(
        spec: JobSpec, principal: String, environment: [String: String] = ProcessInfo.processInfo.environment,
        requestTimeout: TimeInterval = 30, leaseWait: TimeInterval = 10, caching: AccessTokenCaching = .default,
        clock: @escaping @Sendable () -> Date = { Date() }, storeSessions: Int = 4, sessionWait: TimeInterval = 10
    ) throws {
        self.spec = spec
        self.environment = environment
        self.requestTimeout = requestTimeout
        self.leaseWait = leaseWait
        self.clock = clock
        cache = AccessTokenCache(policy: caching)
        let masterKey = try spec.loadMasterKey(environment: environment)
        let state = try JobState.open(
            spec: spec, masterKey: masterKey, principal: spec.principal ?? principal, readOnly: false,
            environment: environment)
        pool = StoreSessionPool(
            first: TokenCustodian(vault: state.vault, store: state.store), size: storeSessions, wait: sessionWait)
    }

    /// How many store sessions this instance has open now (at most `storeSessions`).
    public var openStoreSessions: Int { pool.openSessions }

    /// An access token for `key`'s stored refresh token: the cached one while it is valid (minus the skew)
    /// and the row is still active and the same grant, else a new redemption, shared with concurrent callers
    /// of the same key and scope.
    /// - Parameters:
    ///   - scope: the scope to ask for (default: the provider's scope in the spec); part of the cache key.
    ///   - forceRefresh: redeem even when a cached token is valid (after an API refused it, say); the new
    ///     token replaces the cached one. Concurrent forced refreshes of one key share one redemption; a
    ///     load test that wants hosts to collide on redemptions uses them.
    /// - throws: ``OAuthError`` (a dead token also marks the row needs_reauth), ``StoreError`` for a missing
    ///   or dropped token, ``AccessError`` when the provider is unknown, the row stays leased, or the lease
    ///   was lost before the rotated refresh token could be committed.
    public func accessToken(for key: TokenKey, scope: String? = nil, forceRefresh: Bool = false) async throws
        -> AccessGrant
    {
        let provider = try providerSpec(key.provider)
        let profile = ProviderProfile(provider)
        guard case .refreshable = profile.lifecycle else {
            // Facebook's long-lived token and X's token are themselves what the API takes.
            let (row, token) = try await pool.withCustodian { custodian in
                guard let row = try custodian.store.get(key) else { throw StoreError.notFound(key) }
                return (row, try custodian.open(row))
            }
            return AccessGrant(
                key: key, providerKind: provider.kind, accessToken: token, expiresAt: row.expiresAt, idToken: nil,
                tokenType: "Bearer")
        }
        let cacheKey = AccessTokenCache.Key(row: key, scope: scope ?? provider.scope)
        if !forceRefresh, let grant = try await cachedGrant(cacheKey, kind: provider.kind) { return grant }
        return try await redemptions.run(Redemption(key: cacheKey, forced: forceRefresh)) { [self] in
            // A redemption that ended between the look above and the start of this one left its token here.
            if !forceRefresh, let grant = try await cachedGrant(cacheKey, kind: provider.kind) { return grant }
            return try await redeem(cacheKey, provider: provider, profile: profile)
        }
    }

    /// Redeems the row's refresh token, commits the rotated one, and caches the access token.
    private func redeem(_ cacheKey: AccessTokenCache.Key, provider: ProviderSpec, profile: ProviderProfile) async throws
        -> AccessGrant
    {
        let key = cacheKey.row
        // Everything that can fail before the provider is called comes before the lease: a row left leased
        // by a request that never reached the provider would look interrupted to the next job.
        guard
            let settings = profile.clientSettings(
                tenant: key.tenant, clientSecret: try secret(provider), requestTimeout: requestTimeout)
        else {
            throw AccessError(
                item: "provider \(provider.name)", problem: "has no token endpoint",
                remedy: "Add token_endpoint to the provider in the job spec.")
        }
        let owner = "access \(UUID().uuidString.prefix(8))"
        let row = try await lease(key, owner: owner)
        let token: SecretText
        do {
            token = try await pool.withCustodian { try $0.open(row) }
        } catch {
            try? await pool.withCustodian { try $0.store.releaseLease(key, owner: owner) }
            throw error
        }
        let response: TokenGrantResponse
        // The provider's expires_in counts from some moment of the request: from its start, the cache never
        // keeps a token longer than the provider said.
        let requestedAt = clock()
        do {
            response = try await clients.client(for: settings).refresh(token, scope: cacheKey.scope)
        } catch let error as OAuthError {
            try? await pool.withCustodian { custodian in
                if error.kind == .deadToken, let dead = row.sealedToken {
                    try custodian.store.markNeedsReauth(
                        key, errorCode: error.reportCode, now: Date(), ifStillHolding: dead)
                }
                try custodian.store.releaseLease(key, owner: owner)
            }
            throw error
        }
        // Commit the rotated refresh token before the access token goes anywhere (I8).
        // Durably (power cut included): on SQLite the requests that commit at once share one sync.
        let commit = try await pool.withCustodian { custodian in
            try await custodian.commitRedeemed(row, owner: owner, response: response, usedToken: token, at: Date())
        }
        guard commit != .leaseLost else {
            throw AccessError(
                item: "token \(key)",
                problem: "lost its lease while it was being redeemed, and another holder changed the row meanwhile "
                    + "(lease_lost), so the refresh token the provider returned was not stored",
                remedy:
                    "Try again; if the provider rotates refresh tokens and the next attempt is refused, the user must sign in again."
            )
        }
        let expiresAt = response.expiresIn.map { requestedAt.addingTimeInterval($0) }
        if let expiresAt {
            let entry = AccessTokenCache.Entry(
                accessToken: response.accessToken, tokenType: response.tokenType,
                idToken: response.idToken.map(SecretText.init), expiresAt: expiresAt, rowID: row.id,
                rowIssuedAt: row.issuedAt)
            withCache { $0.store(entry, for: cacheKey, at: clock()) }
        }
        return AccessGrant(
            key: key, providerKind: provider.kind, accessToken: response.accessToken, expiresAt: expiresAt,
            idToken: response.idToken, tokenType: response.tokenType)
    }

    /// The cached grant for `cacheKey`, if one is valid and its row (read now, one indexed read) is still the
    /// active row it was redeemed from; an entry whose row changed is dropped.
    private func cachedGrant(_ cacheKey: AccessTokenCache.Key, kind: ProviderSpec.Kind) async throws -> AccessGrant? {
        guard let entry = withCache({ $0.entry(for: cacheKey, at: clock()) }) else { return nil }
        let row = try await pool.withCustodian { try $0.store.get(cacheKey.row) }
        guard let row, entry.stillBacked(by: row) else {
            withCache { $0.remove(cacheKey, ifStill: entry) }
            return nil
        }
        return AccessGrant(
            key: cacheKey.row, providerKind: kind, accessToken: entry.accessToken, expiresAt: entry.expiresAt,
            idToken: entry.idToken?.revealed, tokenType: entry.tokenType, fromCache: true)
    }

    /// How many access tokens are in memory now.
    var cachedAccessTokens: Int { withCache { $0.count } }

    /// The On-Behalf-Of add-token sequence: trades the user's access token (sent to this middle tier) for a
    /// refresh token and stores it under the tenant and user its id_token (or the assertion) names.
    /// - Returns: the row's key and the access token the exchange returned.
    public func onBehalfOf(assertion: SecretText, provider name: String, scope: String? = nil) async throws
        -> AccessGrant
    {
        let provider = try providerSpec(name)
        let claimsSource = try IDTokenClaims(decoding: assertion.revealed)
        let tenantHint =
            provider.tenant.flatMap { ["organizations", "common", "consumers"].contains($0) ? nil : $0 } ?? claimsSource
            .tenantID ?? ""
        guard
            let settings = ProviderProfile(provider).clientSettings(
                tenant: tenantHint, clientSecret: try secret(provider), requestTimeout: requestTimeout)
        else {
            throw AccessError(
                item: "provider \(name)", problem: "has no token endpoint",
                remedy: "Add token_endpoint to the provider in the job spec.")
        }
        let requested = scope ?? provider.scope ?? "offline_access"
        let response = try await clients.client(for: settings).onBehalfOf(assertion: assertion, scope: requested)
        let claims = try response.idToken.map { try IDTokenClaims(decoding: $0) } ?? claimsSource
        guard let tenant = claims.tenantID ?? claimsSource.tenantID, let user = claims.userID ?? claimsSource.userID
        else {
            throw AccessError(
                item: "On-Behalf-Of answer", problem: "names no tenant (tid) or user (oid, sub)",
                remedy: "Ask for the openid scope so the provider returns an id_token, or check the assertion's claims."
            )
        }
        guard let refresh = response.refreshToken else {
            throw AccessError(
                item: "On-Behalf-Of answer", problem: "carries no refresh token",
                remedy: "Add offline_access to the scope (the provider returns a refresh token only then).")
        }
        let key = TokenKey(tenant: tenant, user: user, provider: name)
        let now = Date()
        // the new token family is what the provider gave: durable before the answer goes out
        try await pool.withCustodian { custodian in
            _ = try custodian.put(
                key, token: refresh, issuedAt: now,
                expiresAt: response.refreshTokenExpiresIn.map { now.addingTimeInterval($0) })
            try await custodian.store.syncCommits()
        }
        return AccessGrant(
            key: key, providerKind: provider.kind, accessToken: response.accessToken,
            expiresAt: response.expiresIn.map { now.addingTimeInterval($0) }, idToken: response.idToken,
            tokenType: response.tokenType)
    }

    // MARK: - Helpers

    /// Takes the row's lease, waiting up to `leaseWait` while someone else (the nightly job) holds it.
    private func lease(_ key: TokenKey, owner: String) async throws -> StoredToken {
        let deadline = Date().addingTimeInterval(leaseWait)
        while true {
            let (taken, row, before): (Bool, StoredToken?, StoredToken?) = try await pool.withCustodian { custodian in
                let before = try custodian.store.get(key)
                let taken = try custodian.store.acquireLease(
                    key, owner: owner, until: Date().addingTimeInterval(requestTimeout * 2))
                do {
                    return (taken, try custodian.store.get(key), before)
                } catch {
                    if taken { try? custodian.store.releaseLease(key, owner: owner) }
                    throw error
                }
            }
            guard let row else { throw StoreError.notFound(key) }
            if taken, let previous = before?.leaseOwner, previous != owner, let dead = before?.sealedToken {
                // Its lease ran out while another holder was redeeming it: that holder died, or is still
                // waiting for an answer, and the provider may have rotated the token. Redeeming it again could
                // revoke the whole family: as the refresh stage does, ask for a sign-in instead.
                try await pool.withCustodian { custodian in
                    _ = try custodian.store.markNeedsReauth(
                        key, errorCode: "interrupted_refresh", now: Date(), ifStillHolding: dead)
                    try custodian.store.releaseLease(key, owner: owner)
                }
                throw AccessError(
                    item: "token \(key)",
                    problem: "a refresh by \(previous) was interrupted, so the provider may have rotated this token "
                        + "(interrupted_refresh); it is marked needs_reauth",
                    remedy:
                        "Ask the user to sign in again (the token is not redeemed again: that could revoke its family)."
                )
            }
            if taken { return row }
            if Date() >= deadline {
                throw AccessError(
                    item: "token \(key)", problem: "is being refreshed by someone else (its lease is held)",
                    remedy: "Try again in a moment.")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func providerSpec(_ name: String) throws -> ProviderSpec {
        guard let provider = spec.providers[name] else {
            let hint = Suggestion.closest(to: name, among: spec.providers.keys).map { "Did you mean '\($0)'? " } ?? ""
            throw AccessError(
                item: "provider \(name)", problem: "is not in the job spec \(spec.sourcePath)",
                remedy: "\(hint)Providers: \(spec.providers.keys.sorted().joined(separator: ", ")).")
        }
        return provider
    }

    private func secret(_ provider: ProviderSpec) throws -> SecretText? {
        try provider.clientSecret.map { try $0.resolve(environment: environment) }
    }

    private func withCache<T>(_ body: (inout AccessTokenCache) -> T) -> T {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        return body(&cache)
    }
}

/// What `print` and `dump` show of a `TokenAccess`: the spec and a count of cached tokens. Never the
/// environment it was given (it holds the master key and client secrets) nor a token.
extension TokenAccess: CustomStringConvertible, CustomReflectable {
    public var description: String { "TokenAccess(spec: \(spec.sourcePath), \(withCache { $0.description }))" }
    public var customMirror: Mirror {
        Mirror(
            self, children: ["spec": spec.sourcePath, "cachedAccessTokens": cachedAccessTokens], displayStyle: .class)
    }
}

/// Token use that cannot go ahead.
public struct AccessError: ActionableError {
    public let item: String
    public let problem: String
    public let remedy: String
    public var exitStatus: ExitStatus { .itemsFailed }
}

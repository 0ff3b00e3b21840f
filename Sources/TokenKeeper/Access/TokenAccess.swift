import Foundation

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
}

/// The path a web service takes: open the stored refresh token, redeem it for an access token, commit
/// any rotated refresh token at once, durable against a power cut too (I8), and hand back the access
/// token, which is never stored. Also
/// the On-Behalf-Of add-token sequence. `tokenkeeper token access` and `token obo` are this API.
///
/// It never takes the job lock (I7): it leases the row, so a nightly refresh and a user's request never
/// redeem the same token at once, and waits briefly when the job holds the row. Data keys are cached per
/// (secret, version), since versions never change. Thread-safe: store access is serialized by a lock,
/// network calls run outside it.
public final class TokenAccess: @unchecked Sendable {
    private let spec: JobSpec
    private let custodian: TokenCustodian
    private let environment: [String: String]
    private let lock = NSLock()
    private let clients = OAuthClientCache()
    private let requestTimeout: TimeInterval
    private let leaseWait: TimeInterval

    /// Opens the spec's vault and store as the spec's principal (or `principal`).
    /// - throws: the vault's, store's and master key's errors.
    public init(spec: JobSpec, principal: String, environment: [String: String] = ProcessInfo.processInfo.environment,
                requestTimeout: TimeInterval = 30, leaseWait: TimeInterval = 10) throws {
        self.spec = spec
        self.environment = environment
        self.requestTimeout = requestTimeout
        self.leaseWait = leaseWait
        let masterKey = try spec.loadMasterKey(environment: environment)
        let vault = try FileVault.open(at: spec.vaultPath, masterKey: masterKey, principal: spec.principal ?? principal)
        custodian = TokenCustodian(vault: vault, store: try SQLiteTokenStore(path: spec.storePath))
    }

    /// An access token for `key`'s stored refresh token.
    /// - throws: ``OAuthError`` (a dead token also marks the row needs_reauth), ``StoreError`` for a missing
    ///   or dropped token, ``AccessError`` when the provider is unknown or the row stays leased.
    public func accessToken(for key: TokenKey, scope: String? = nil) async throws -> AccessGrant {
        let provider = try providerSpec(key.provider)
        let profile = ProviderProfile(provider)
        guard case .refreshable = profile.lifecycle else {
            // Facebook's long-lived token and X's token are themselves what the API takes.
            let row = try locked { try custodian.store.get(key) }
            guard let row else { throw StoreError.notFound(key) }
            let token = try locked { try custodian.open(row) }
            return AccessGrant(key: key, providerKind: provider.kind, accessToken: token, expiresAt: row.expiresAt, idToken: nil, tokenType: "Bearer")
        }
        let owner = "access \(UUID().uuidString.prefix(8))"
        let row = try await lease(key, owner: owner)
        let token: SecretText
        do {
            token = try locked { try custodian.open(row) }
        } catch {
            try? locked { try custodian.store.releaseLease(key, owner: owner) }
            throw error
        }
        guard let settings = profile.clientSettings(tenant: key.tenant, clientSecret: try secret(provider), requestTimeout: requestTimeout) else {
            try? locked { try custodian.store.releaseLease(key, owner: owner) }
            throw AccessError(item: "provider \(provider.name)", problem: "has no token endpoint", remedy: "Add token_endpoint to the provider in the job spec.")
        }
        let response: TokenGrantResponse
        do {
            response = try await clients.client(for: settings).refresh(token, scope: scope ?? provider.scope)
        } catch let error as OAuthError {
            try? locked {
                if error.kind == .deadToken { try custodian.store.markNeedsReauth(key, errorCode: error.reportCode) }
                try custodian.store.releaseLease(key, owner: owner)
            }
            throw error
        }
        // Commit the rotated refresh token, durably (power cut included), before the access token goes anywhere (I8).
        let now = Date()
        try locked {
            let (version, sealed) = try custodian.seal(response.refreshToken ?? token, for: key, secret: key.tenant)
            let expires = response.refreshTokenExpiresIn.map { now.addingTimeInterval($0) } ?? row.expiresAt
            _ = try custodian.store.commitRefreshedTransaction(key, owner: owner, secretName: key.tenant, keyVersion: version,
                                                               sealedToken: sealed, refreshedAt: now, expiresAt: expires)
        }
        // Outside the lock: the sync uses no connection, and requests that wait at once share one.
        try await custodian.store.syncCommits()
        return AccessGrant(key: key, providerKind: provider.kind, accessToken: response.accessToken,
                           expiresAt: response.expiresIn.map { now.addingTimeInterval($0) }, idToken: response.idToken, tokenType: response.tokenType)
    }

    /// The On-Behalf-Of add-token sequence: trades the user's access token (sent to this middle tier) for a
    /// refresh token and stores it under the tenant and user its id_token (or the assertion) names.
    /// - Returns: the row's key and the access token the exchange returned.
    public func onBehalfOf(assertion: SecretText, provider name: String, scope: String? = nil) async throws -> AccessGrant {
        let provider = try providerSpec(name)
        let claimsSource = try IDTokenClaims(decoding: assertion.revealed)
        let tenantHint = provider.tenant.flatMap { ["organizations", "common", "consumers"].contains($0) ? nil : $0 } ?? claimsSource.tenantID ?? ""
        guard let settings = ProviderProfile(provider).clientSettings(tenant: tenantHint, clientSecret: try secret(provider), requestTimeout: requestTimeout) else {
            throw AccessError(item: "provider \(name)", problem: "has no token endpoint", remedy: "Add token_endpoint to the provider in the job spec.")
        }
        let requested = scope ?? provider.scope ?? "offline_access"
        let response = try await clients.client(for: settings).onBehalfOf(assertion: assertion, scope: requested)
        let claims = try response.idToken.map { try IDTokenClaims(decoding: $0) } ?? claimsSource
        guard let tenant = claims.tenantID ?? claimsSource.tenantID, let user = claims.userID ?? claimsSource.userID else {
            throw AccessError(item: "On-Behalf-Of answer", problem: "names no tenant (tid) or user (oid, sub)",
                              remedy: "Ask for the openid scope so the provider returns an id_token, or check the assertion's claims.")
        }
        guard let refresh = response.refreshToken else {
            throw AccessError(item: "On-Behalf-Of answer", problem: "carries no refresh token",
                              remedy: "Add offline_access to the scope (the provider returns a refresh token only then).")
        }
        let key = TokenKey(tenant: tenant, user: user, provider: name)
        let now = Date()
        try locked {
            _ = try custodian.put(key, token: refresh, issuedAt: now, expiresAt: response.refreshTokenExpiresIn.map { now.addingTimeInterval($0) })
        }
        try await custodian.store.syncCommits()  // the new token family is what the provider gave: durable before the answer goes out
        return AccessGrant(key: key, providerKind: provider.kind, accessToken: response.accessToken,
                           expiresAt: response.expiresIn.map { now.addingTimeInterval($0) }, idToken: response.idToken, tokenType: response.tokenType)
    }

    // MARK: - Helpers

    /// Takes the row's lease, waiting up to `leaseWait` while someone else (the nightly job) holds it.
    private func lease(_ key: TokenKey, owner: String) async throws -> StoredToken {
        let deadline = Date().addingTimeInterval(leaseWait)
        while true {
            let (taken, row) = try locked {
                (try custodian.store.acquireLease(key, owner: owner, until: Date().addingTimeInterval(requestTimeout * 2)),
                 try custodian.store.get(key))
            }
            guard let row else { throw StoreError.notFound(key) }
            if taken { return row }
            if Date() >= deadline {
                throw AccessError(item: "token \(key)", problem: "is being refreshed by someone else (its lease is held)",
                                  remedy: "Try again in a moment.")
            }
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    private func providerSpec(_ name: String) throws -> ProviderSpec {
        guard let provider = spec.providers[name] else {
            let hint = Suggestion.closest(to: name, among: spec.providers.keys).map { "Did you mean '\($0)'? " } ?? ""
            throw AccessError(item: "provider \(name)", problem: "is not in the job spec \(spec.sourcePath)",
                              remedy: "\(hint)Providers: \(spec.providers.keys.sorted().joined(separator: ", ")).")
        }
        return provider
    }

    private func secret(_ provider: ProviderSpec) throws -> SecretText? {
        try provider.clientSecret.map { try $0.resolve(environment: environment) }
    }

    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

/// Token use that cannot go ahead.
public struct AccessError: ActionableError {
    public let item: String
    public let problem: String
    public let remedy: String
    public var exitStatus: ExitStatus { .itemsFailed }
}

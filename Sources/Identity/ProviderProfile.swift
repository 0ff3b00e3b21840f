import Foundation
import Spec
import Support

/// What tokenkeeper knows of each provider kind: where its endpoints are and how its tokens live.

public struct ProviderProfile: Sendable {
    /// How a provider's stored tokens stay usable.
    public enum Lifecycle: Sendable, Equatable {
        /// Refresh tokens are redeemed before they die. `rotates`: every redemption returns a new one
        /// and invalidates the old (Entra). Otherwise an answer without a refresh token keeps the old one
        /// (Google, most RFC 6749 servers).
        case refreshable(rotates: Bool)
        /// No refresh tokens: long-lived access tokens that expire after `lifetime` (Facebook, 60 days);
        /// the user must consent again before that.
        case reconsentBeforeExpiry(lifetime: TimeInterval)
        /// Tokens that do not expire (X's OAuth 1.0a user tokens): nothing to refresh.
        case neverExpires
    }

    /// The provider as the spec names it.
    public let spec: ProviderSpec

    /// The profile of a spec's provider.
    public init(_ spec: ProviderSpec) { self.spec = spec }

    /// How this provider's tokens live.
    public var lifecycle: Lifecycle {
        switch spec.kind {
        case .entra: .refreshable(rotates: true)
        case .google, .oauth2: .refreshable(rotates: false)
        case .facebook: .reconsentBeforeExpiry(lifetime: 60 * 86_400)
        case .x: .neverExpires
        }
    }

    /// The token endpoint for a row of `tenant`: the spec's, or the provider's documented one. Entra's
    /// is per tenant (`{authority}/{tenant}/oauth2/v2.0/token`), with the spec's `tenant` (for example
    /// `organizations`) in place of the row's when given.
    public func tokenEndpoint(tenant: String) -> URL? {
        if let endpoint = spec.tokenEndpoint { return endpoint }
        switch spec.kind {
        case .entra:
            let authority = spec.authority ?? URL(string: "https://login.microsoftonline.com")!
            return authority.appendingPathComponent(spec.tenant ?? tenant).appendingPathComponent("oauth2/v2.0/token")
        case .google: return URL(string: "https://oauth2.googleapis.com/token")
        case .facebook: return URL(string: "https://graph.facebook.com/v19.0/oauth/access_token")
        case .x, .oauth2: return nil
        }
    }

    /// The RFC 7009 revocation endpoint: the spec's, or Google's documented one. Entra has none
    /// (sessions are revoked through Microsoft Graph, outside OAuth).
    public var revocationEndpoint: URL? {
        if let endpoint = spec.revocationEndpoint { return endpoint }
        return spec.kind == .google ? URL(string: "https://oauth2.googleapis.com/revoke") : nil
    }

    /// Whether each row's tenant has its own token endpoint: Entra's documented one, unless the spec
    /// names an endpoint or a fixed `tenant` (such as `organizations`).
    public var endpointDependsOnTenant: Bool { spec.kind == .entra && spec.tokenEndpoint == nil && spec.tenant == nil }

    /// Client settings for a row of `tenant`, or nil when the provider has no token endpoint.
    public func clientSettings(tenant: String, clientSecret: SecretText?, requestTimeout: TimeInterval)
        -> OAuthClientSettings?
    {
        tokenEndpoint(tenant: tenant).map {
            OAuthClientSettings(
                tokenEndpoint: $0, revocationEndpoint: revocationEndpoint, clientID: spec.clientID ?? "",
                clientSecret: clientSecret, clientAuth: spec.clientAuth, requestTimeout: requestTimeout,
                endpointDependsOnTenant: endpointDependsOnTenant)
        }
    }
}

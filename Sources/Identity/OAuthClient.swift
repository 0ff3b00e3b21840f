import Foundation
import Spec
import Support

#if canImport(FoundationNetworking)

    import FoundationNetworking
#endif

/// How tokenkeeper reaches one provider's endpoints as one client.

public struct OAuthClientSettings: Sendable {
    /// The token endpoint.
    public var tokenEndpoint: URL
    /// The RFC 7009 revocation endpoint, if the provider has one.
    public var revocationEndpoint: URL?
    /// The client id.
    public var clientID: String
    /// The client secret (from an env: or file: reference), if the client has one.
    public var clientSecret: SecretText?
    /// client_secret_post or client_secret_basic.
    public var clientAuth: ProviderSpec.ClientAuth
    /// The time limit of every request.
    public var requestTimeout: TimeInterval
    /// Whether the token endpoint is the row's tenant's own (Entra's `{authority}/{tenant}/...`): a
    /// client refused there may be refused by that tenant only (``OAuthFailureScope``).
    public var endpointDependsOnTenant: Bool

    /// Creates settings.
    public init(
        tokenEndpoint: URL, revocationEndpoint: URL?, clientID: String, clientSecret: SecretText?,
        clientAuth: ProviderSpec.ClientAuth, requestTimeout: TimeInterval, endpointDependsOnTenant: Bool = false
    ) {
        self.tokenEndpoint = tokenEndpoint
        self.revocationEndpoint = revocationEndpoint
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.clientAuth = clientAuth
        self.requestTimeout = requestTimeout
        self.endpointDependsOnTenant = endpointDependsOnTenant
    }
}

/// An OAuth 2.0 client over URLSession: the refresh_token grant (RFC 6749 section 6), Microsoft
/// Entra's On-Behalf-Of grant (jwt-bearer with requested_token_use=on_behalf_of) and RFC 7009
/// revocation, with client_secret_post or client_secret_basic, and a timeout on every request.
///
/// Tokens and secrets go only into request bodies and the Authorization header; errors carry the
/// endpoint, the HTTP status and the provider's error code and description, never a value: what the
/// provider answers is cleaned of every secret the request sent (``SentSecrets``), since a provider or
/// a proxy may echo the request, and of control characters, and capped.
public final class OAuthClient: Sendable {
    /// Where and as whom requests go.
    public let settings: OAuthClientSettings
    private let session: URLSession

    /// Creates a client with its own ephemeral session (no cookies, no cache).
    public init(settings: OAuthClientSettings) {
        self.settings = settings
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.requestTimeout
        configuration.timeoutIntervalForResource = settings.requestTimeout
        configuration.httpCookieStorage = nil
        configuration.urlCache = nil
        // One connection per concurrent request: a request left waiting in the session's queue is not yet
        // sent while its row is already leased, and a run killed then leaves that row needing a sign-in
        // although its token was never redeemed (the default allows 6 connections per host).
        configuration.httpMaximumConnectionsPerHost = Self.maxConnectionsPerHost
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    /// Redeems `refreshToken` (RFC 6749 section 6).
    /// - throws: ``OAuthError`` classified as dead token, transient or configuration.
    public func refresh(_ refreshToken: SecretText, scope: String? = nil) async throws -> TokenGrantResponse {
        var form = [("grant_type", "refresh_token"), ("refresh_token", refreshToken.revealed)]
        if let scope, !scope.isEmpty { form.append(("scope", scope)) }
        return try TokenGrantResponse.parse(
            try await post(settings.tokenEndpoint, form: form, secrets: [refreshToken]),
            endpoint: endpointText(settings.tokenEndpoint))
    }

    /// Microsoft Entra's On-Behalf-Of exchange: trades the user's access token (`assertion`, sent to this
    /// middle tier) for tokens of the middle tier, with a refresh token when `scope` has offline_access.
    public func onBehalfOf(assertion: SecretText, scope: String) async throws -> TokenGrantResponse {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"), ("requested_token_use", "on_behalf_of"),
            ("assertion", assertion.revealed), ("scope", scope),
        ]
        return try TokenGrantResponse.parse(
            try await post(settings.tokenEndpoint, form: form, secrets: [assertion]),
            endpoint: endpointText(settings.tokenEndpoint))
    }

    /// Revokes a token at the provider (RFC 7009). The provider answers 200 also for tokens it does not
    /// know, so revoking twice is harmless.
    /// - throws: ``OAuthError``; a configuration error when the provider has no revocation endpoint.
    public func revoke(_ token: SecretText, hint: String = "refresh_token") async throws {
        guard let endpoint = settings.revocationEndpoint else {
            throw OAuthError(
                kind: .configuration, endpoint: endpointText(settings.tokenEndpoint), status: 0,
                error: "no_revocation_endpoint",
                errorDescription: "the provider has no revocation endpoint", providerCode: nil, retryAfter: nil)
        }
        _ = try await post(endpoint, form: [("token", token.revealed), ("token_type_hint", hint)], secrets: [token])
    }

    // MARK: - HTTP

    /// POSTs a form with client authentication and returns the body of a 2xx answer. `secrets` are the
    /// form's secret values: an error answer is cleaned of them and of the client secret.
    private func post(_ url: URL, form: [(String, String)], secrets: [SecretText]) async throws -> Data {
        var fields = form
        var authorization: String?
        var request = URLRequest(
            url: url, cachePolicy: .reloadIgnoringLocalCacheData, timeoutInterval: settings.requestTimeout)
        request.httpMethod = "POST"
        request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        switch settings.clientAuth {
        case .clientSecretBasic where settings.clientSecret != nil:
            // RFC 6749 section 2.3.1: id and secret are form-urlencoded before the Basic encoding.
            let pair = Self.formEncode(settings.clientID) + ":" + Self.formEncode(settings.clientSecret!.revealed)
            authorization = Data(pair.utf8).base64EncodedString()
            request.setValue("Basic " + authorization!, forHTTPHeaderField: "Authorization")
        default:
            fields.append(("client_id", settings.clientID))
            if let secret = settings.clientSecret { fields.append(("client_secret", secret.revealed)) }
        }
        request.httpBody = Data(
            fields.map { Self.formEncode($0.0) + "=" + Self.formEncode($0.1) }.joined(separator: "&").utf8)
        let endpoint = endpointText(url)
        let data: Data
        let response: URLResponse
        do {
            (data, response) = try await session.data(for: request)
        } catch let error as URLError {
            let code =
                error.code == .timedOut
                ? "timeout" : Self.neverConnected.contains(error.code) ? "unreachable" : "network"
            throw OAuthError(
                kind: .transient, endpoint: endpoint, status: 0, error: code,
                errorDescription: "no answer (\(error.code.rawValue)): \(error.localizedDescription)",
                providerCode: nil, retryAfter: nil)
        } catch {
            throw OAuthError(
                kind: .transient, endpoint: endpoint, status: 0, error: "network",
                errorDescription: "\(type(of: error))",
                providerCode: nil, retryAfter: nil)
        }
        guard let http = response as? HTTPURLResponse else {
            throw OAuthError(
                kind: .transient, endpoint: endpoint, status: 0, error: "network",
                errorDescription: "not an HTTP answer",
                providerCode: nil, retryAfter: nil)
        }
        guard (200..<300).contains(http.statusCode) else {
            let sent = SentSecrets(
                secrets + [settings.clientSecret].compactMap { $0 }, literals: [authorization].compactMap { $0 })
            throw OAuthError.fromResponse(
                endpoint: endpoint, status: http.statusCode, body: data,
                retryAfter: Self.retryAfter(http.value(forHTTPHeaderField: "Retry-After")),
                endpointDependsOnTenant: settings.endpointDependsOnTenant, sent: sent)
        }
        return data
    }

    /// As many connections to one host as the most concurrent stage has workers (the spec allows 256).
    static let maxConnectionsPerHost = 256

    /// Failures before any connection was made (refused, no such host): the request never left this host.
    private static let neverConnected: Set<URLError.Code> = [
        .cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .notConnectedToInternet,
    ]

    /// `application/x-www-form-urlencoded` for one name or value.
    static func formEncode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// Retry-After as seconds: a number, or an HTTP date.
    static func retryAfter(_ value: String?) -> TimeInterval? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = TimeInterval(value) { return max(0, seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: value).map { max(0, $0.timeIntervalSinceNow) }
    }

    /// The endpoint for messages: scheme, host, port and path only.
    private func endpointText(_ url: URL) -> String {
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)
        components?.query = nil
        components?.user = nil
        components?.password = nil
        return components?.string ?? url.absoluteString
    }
}

import Foundation
import Support

/// What a failed token request means for the token and for the stage.

public enum OAuthFailureKind: String, Sendable, Codable {
    /// The provider refused the refresh token for good (expired, revoked, reused, or the user must
    /// interact): the row becomes needs_reauth and the user must sign in again.
    case deadToken
    /// A timeout, a dropped connection, a 5xx or a 429: try again later.
    case transient
    /// The provider refused the request itself (the client, the grant, the scope): not the token's
    /// life and not a passing fault. Its ``OAuthFailureScope`` says whether every request would fail the
    /// same way (the stage stops), only those for one tenant (that tenant fails), or only this one.
    case configuration
}

/// How far a refusal reaches: what a stage must stop doing because of it.
public enum OAuthFailureScope: String, Sendable, Codable {
    /// This request, this token: the others go on.
    case token
    /// Every request for this tenant: the app was removed from the customer's tenant
    /// (`unauthorized_client`, AADSTS700016), the tenant does not exist, or the client is refused at the
    /// tenant's own endpoint. The tenant fails; the other tenants go on.
    case tenant
    /// Every request: bad client credentials at an endpoint that does not depend on the tenant, a grant
    /// type the provider does not support. The stage stops.
    case client
}

/// A token, On-Behalf-Of or revocation request that failed. Its text holds the provider's error code
/// and description, never a token or a secret.
public struct OAuthError: ActionableError {
    /// What the failure means.
    public var kind: OAuthFailureKind
    /// The endpoint that answered (no query, no secret).
    public var endpoint: String
    /// The HTTP status, or 0 when there was no answer (timeout, dropped connection).
    public var status: Int
    /// The OAuth `error` value (`invalid_grant`, `interaction_required`, ...), or a tokenkeeper code
    /// when there was no answer: `timeout`, `network`, or `unreachable` (no connection was made).
    public var error: String
    /// The provider's description, if any.
    public var errorDescription: String?
    /// The provider's own code: Entra's `AADSTS700082` style, from `error_codes` or the description.
    public var providerCode: String?
    /// Seconds the provider asked to wait (Retry-After), if it said.
    public var retryAfter: TimeInterval?
    /// How far the refusal reaches (for ``OAuthFailureKind/configuration``; token otherwise).
    public var scope: OAuthFailureScope = .token

    /// The longest `error` kept: OAuth error codes are short words; more is an echo, not a code.
    public static let maximumErrorLength = 64
    /// The longest `error_description` kept.
    public static let maximumDescriptionLength = 300

    public var item: String { endpoint }
    public var problem: String {
        var text = status > 0 ? "HTTP \(status) \(error)" : error
        if let providerCode { text += " (\(providerCode))" }
        if let errorDescription, !errorDescription.isEmpty { text += ": \(Self.firstLine(errorDescription))" }
        return text
    }
    public var remedy: String {
        switch kind {
        case .deadToken:
            "The user must sign in again; store the new refresh token with `tokenkeeper token put` or `token obo`."
        case .transient: "The next run retries it; if it persists, check the provider's status and the network."
        case .configuration:
            switch scope {
            case .client:
                "Check the provider's client_id, client_secret reference, client_auth and endpoints in the job spec."
            case .tenant:
                "The provider refuses this client for this tenant only (for example the app was removed from the customer's tenant, "
                    + "or its consent was revoked): ask the tenant's admin to consent again, or revoke the tenant's tokens."
            case .token: "The provider refused this one request; if it happens again, have the user sign in again."
            }
        }
    }
    public var exitStatus: ExitStatus { kind == .configuration ? .environment : .itemsFailed }

    /// Whether the provider may have received, and acted on, the request: false only when there was no
    /// answer because no connection was ever made (`unreachable`). A lost answer is no proof that the
    /// request was not carried out.
    public var mayHaveReachedProvider: Bool { status != 0 || error != "unreachable" }

    /// The code a report files the failure under: the provider's code, else the OAuth error.
    public var reportCode: String { providerCode ?? error }

    private static func firstLine(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
        return line.count > maximumDescriptionLength ? String(line.prefix(maximumDescriptionLength - 1)) + "…" : line
    }

    /// Entra codes that concern the client's standing in one tenant, whatever the OAuth error says:
    /// tenant not found (90002), the app not found in the tenant (700016), the app disabled there
    /// (7000112), the resource not in the tenant (500011), a service the tenant has not subscribed to (650052).
    static let tenantProviderCodes: Set<String> = [
        "AADSTS90002", "AADSTS700016", "AADSTS7000112", "AADSTS500011", "AADSTS650052",
    ]

    /// How far a refusal reaches: tenant for Entra's tenant codes and for errors about the client's
    /// standing (unauthorized_client, invalid_scope, invalid_resource, access_denied); for bad client
    /// credentials (invalid_client, 401) every request at a tenant-independent endpoint, else the tenant;
    /// every request for an unsupported grant type; otherwise (an error tokenkeeper does not know) the token.
    static func refusalScope(error: String, status: Int, providerCode: String?, endpointDependsOnTenant: Bool)
        -> OAuthFailureScope
    {
        if let providerCode, tenantProviderCodes.contains(providerCode) { return .tenant }
        if error == "invalid_client" || status == 401 { return endpointDependsOnTenant ? .tenant : .client }
        if error == "unsupported_grant_type" { return .client }
        if ["unauthorized_client", "invalid_scope", "invalid_resource", "access_denied"].contains(error) {
            return .tenant
        }
        return .token
    }

    /// Classifies an error answer from a token endpoint (RFC 6749 section 5.2, with Entra's additions).
    /// - Parameters:
    ///   - endpointDependsOnTenant: whether the endpoint is the row's tenant's own (Entra's
    ///     `{authority}/{tenant}/...`): bad client credentials there may concern that tenant only.
    ///   - sent: the secrets the request carried, taken out of the provider's text (which may echo them).
    static func fromResponse(
        endpoint: String, status: Int, body: Data, retryAfter: TimeInterval?, endpointDependsOnTenant: Bool = false,
        sent: SentSecrets = SentSecrets([])
    ) -> OAuthError {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let error = object?["error"] as? String ?? "http_\(status)"
        let description = object?["error_description"] as? String
        var providerCode = (object?["error_codes"] as? [Int])?.first.map { "AADSTS\($0)" }
        if providerCode == nil, let description, description.hasPrefix("AADSTS") {
            let digits = description.dropFirst(6).prefix { $0.isASCII && $0.isNumber }.prefix(12)
            if !digits.isEmpty { providerCode = "AADSTS" + digits }
        }
        let kind: OAuthFailureKind
        switch (status, error) {
        case (429, _), (500..., _), (_, "temporarily_unavailable"), (_, "server_error"), (_, "slow_down"):
            kind = .transient
        case (_, "invalid_grant"), (_, "interaction_required"), (_, "consent_required"), (_, "login_required"):
            kind = .deadToken
        default:
            kind = .configuration
        }
        let scope =
            kind == .configuration
            ? refusalScope(
                error: error, status: status, providerCode: providerCode,
                endpointDependsOnTenant: endpointDependsOnTenant)
            : .token
        return OAuthError(
            kind: kind, endpoint: endpoint, status: status, error: sent.clean(error, limit: maximumErrorLength),
            errorDescription: description.map { sent.clean($0, limit: maximumDescriptionLength) },
            providerCode: providerCode, retryAfter: retryAfter, scope: scope)
    }
}

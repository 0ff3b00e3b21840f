import Foundation

/// What a failed token request means for the token and for the stage.
public enum OAuthFailureKind: String, Sendable, Codable {
    /// The provider refused the refresh token for good (expired, revoked, reused, or the user must
    /// interact): the row becomes needs_reauth and the user must sign in again.
    case deadToken
    /// A timeout, a dropped connection, a 5xx or a 429: try again later.
    case transient
    /// The job's own settings are wrong (client id or secret, grant not allowed): every token would fail
    /// the same way, so the stage stops at once.
    case configuration
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

    public var item: String { endpoint }
    public var problem: String {
        var text = status > 0 ? "HTTP \(status) \(error)" : error
        if let providerCode { text += " (\(providerCode))" }
        if let errorDescription, !errorDescription.isEmpty { text += ": \(Self.firstLine(errorDescription))" }
        return text
    }
    public var remedy: String {
        switch kind {
        case .deadToken: "The user must sign in again; store the new refresh token with `tokenkeeper token put` or `token obo`."
        case .transient: "The next run retries it; if it persists, check the provider's status and the network."
        case .configuration: "Check the provider's client_id, client_secret reference, client_auth and endpoints in the job spec."
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
        return line.count > 300 ? String(line.prefix(299)) + "…" : line
    }

    /// Classifies an error answer from a token endpoint (RFC 6749 section 5.2, with Entra's additions).
    static func fromResponse(endpoint: String, status: Int, body: Data, retryAfter: TimeInterval?) -> OAuthError {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        let error = object?["error"] as? String ?? "http_\(status)"
        let description = object?["error_description"] as? String
        var providerCode = (object?["error_codes"] as? [Int])?.first.map { "AADSTS\($0)" }
        if providerCode == nil, let description, description.hasPrefix("AADSTS") {
            providerCode = String(description.prefix { $0 != ":" && $0 != " " })
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
        return OAuthError(kind: kind, endpoint: endpoint, status: status, error: error, errorDescription: description,
                          providerCode: providerCode, retryAfter: retryAfter)
    }
}

import Foundation
import Support

/// A successful token endpoint answer (RFC 6749 section 5.1). The tokens are ``SecretText``: they print
/// as `<redacted>` and are revealed only where they are sealed or handed to the caller.

public struct TokenGrantResponse: Sendable {
    /// The access token, for the caller only: tokenkeeper never stores it.
    public var accessToken: SecretText
    /// The new refresh token, when the provider sent one (rotating providers always do).
    public var refreshToken: SecretText?
    /// Seconds until the access token expires.
    public var expiresIn: TimeInterval?
    /// Seconds until the refresh token expires, when the provider says (`refresh_token_expires_in`).
    public var refreshTokenExpiresIn: TimeInterval?
    /// The id_token, if any (identifies tenant and user).
    public var idToken: String?
    /// The granted scope.
    public var scope: String?
    /// The token type (`Bearer`).
    public var tokenType: String

    /// Parses a token response body.
    /// - throws: ``OAuthError`` (configuration) for a body that is not a token response.
    static func parse(_ body: Data, endpoint: String) throws -> TokenGrantResponse {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
            let access = object["access_token"] as? String, !access.isEmpty
        else {
            throw OAuthError(
                kind: .transient, endpoint: endpoint, status: 200, error: "invalid_response",
                errorDescription: "the answer is not a token response (no access_token)", providerCode: nil,
                retryAfter: nil)
        }
        func seconds(_ key: String) -> TimeInterval? {
            if let number = object[key] as? NSNumber { return number.doubleValue }
            if let text = object[key] as? String { return TimeInterval(text) }
            return nil
        }
        let refresh = (object["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : SecretText($0) }
        return TokenGrantResponse(
            accessToken: SecretText(access), refreshToken: refresh, expiresIn: seconds("expires_in"),
            refreshTokenExpiresIn: seconds("refresh_token_expires_in"), idToken: object["id_token"] as? String,
            scope: object["scope"] as? String, tokenType: object["token_type"] as? String ?? "Bearer")
    }
}

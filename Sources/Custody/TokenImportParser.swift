import Foundation
import Identity
import Store
import Support

/// Reads the inputs of `tokenkeeper token import` into ``ImportRecord``s.
///
/// Two shapes are understood, told apart by the first non-blank character:
/// - **Token endpoint responses** (`{`): one JSON object, or JSON lines of many, as RFC 6749 section 5.1
///   returns them (`refresh_token`, `id_token`, `expires_in`, optional `refresh_token_expires_in`).
///   The tenant and user come from the id_token's `tid` and `oid` (or `sub`) claims (DESIGN.md); the
///   provider from the `provider` argument. A response without `refresh_token` is skipped (the app did
///   not ask for `offline_access`).
/// - **App Service token store** (`[`): the `/.auth/me` JSON array, each entry with `provider_name`,
///   `user_id`, `refresh_token`, `id_token`, `expires_on`, `user_claims`. The provider is the entry's
///   `provider_name` unless `provider` overrides it; tenant and user come from the id_token or the
///   `tid`/`oid` user claims.
///
/// Nothing here touches the vault or the store; the caller seals and stores the records.

package enum TokenImportParser {
    /// The claim types App Service uses for the tenant and object ids in `user_claims`.
    static let tenantClaimTypes = ["tid", "http://schemas.microsoft.com/identity/claims/tenantid"]
    static let objectClaimTypes = ["oid", "http://schemas.microsoft.com/identity/claims/objectidentifier"]
    static let subjectClaimTypes = ["sub", "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"]

    /// What an input held: the usable records and the entries that were skipped or refused.
    package struct Result: Sendable {
        package var records: [ImportRecord] = []
        package var problems: [ImportProblem] = []
    }

    /// Parses `input` (a leading byte order mark is skipped).
    /// - Parameters:
    ///   - provider: the provider name for token endpoint responses (required for them), or an override
    ///     for `/.auth/me` entries.
    ///   - defaultTenant: the tenant for providers whose id_tokens carry no `tid` (Google, Facebook, X).
    ///   - now: the import time, used as the issue time.
    /// - throws: ``ImportError`` when the input as a whole is unreadable (not JSON, wrong shape).
    package static func parse(_ input: Data, source: String, provider: String?, defaultTenant: String?, now: Date)
        throws -> Result
    {
        let data = Data(ByteOrderMark.dropped(from: input))  // a file saved by a Windows editor
        guard let first = data.first(where: { !isWhitespace($0) }) else {
            throw ImportError(
                source: source, problem: "is empty",
                remedy: "Pass a token endpoint response (JSON) or an App Service /.auth/me array.")
        }
        if first == UInt8(ascii: "[") {
            guard let array = try? JSONSerialization.jsonObject(with: data) as? [Any] else {
                throw ImportError(
                    source: source, problem: "starts with '[' but is not a JSON array",
                    remedy: "Pass the /.auth/me response body exactly as App Service returned it.")
            }
            return parseAuthMe(array, provider: provider, defaultTenant: defaultTenant, now: now)
        }
        guard first == UInt8(ascii: "{") else {
            throw ImportError(
                source: source, problem: "is neither JSON objects nor a JSON array",
                remedy: "Pass token endpoint responses (one JSON object per line) or an App Service /.auth/me array.")
        }
        guard let provider, !provider.isEmpty else {
            throw ImportError(
                source: source, problem: "holds token endpoint responses, which do not name their provider",
                remedy: "Add --provider NAME (the provider's name in the job spec).")
        }
        return try parseResponses(data, source: source, provider: provider, defaultTenant: defaultTenant, now: now)
    }

    private static func parseResponses(
        _ data: Data, source: String, provider: String, defaultTenant: String?, now: Date
    ) throws -> Result {
        var result = Result()
        // One pretty-printed object, or JSON lines.
        if let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
            add(
                response: object, location: "object 1", provider: provider, defaultTenant: defaultTenant, now: now,
                to: &result)
            return result
        }
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            parseLine(
                line, number: lineNumber, provider: provider, defaultTenant: defaultTenant, now: now, into: &result)
        }
        return result
    }

    /// One line of JSON lines (token endpoint responses): its record or its problem added to `result`;
    /// a blank line adds nothing.
    package static func parseLine(
        _ line: some Collection<UInt8>, number: Int, provider: String, defaultTenant: String?, now: Date,
        into result: inout Result
    ) {
        guard line.contains(where: { !isWhitespace($0) }) else { return }
        let location = "line \(number)"
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else {
            result.problems.append(ImportProblem(location: location, reason: "not a JSON object", isSkip: false))
            return
        }
        add(
            response: object, location: location, provider: provider, defaultTenant: defaultTenant, now: now,
            to: &result)
    }

    private static func add(
        response: [String: Any], location: String, provider: String, defaultTenant: String?, now: Date,
        to result: inout Result
    ) {
        if let error = response["error"] as? String {
            result.problems.append(
                ImportProblem(location: location, reason: "is an error response (\(safe(error)))", isSkip: true))
            return
        }
        guard let refreshToken = response["refresh_token"] as? String, !refreshToken.isEmpty else {
            result.problems.append(
                ImportProblem(
                    location: location, reason: "has no refresh_token (request the offline_access scope)", isSkip: true)
            )
            return
        }
        if let problem = RefreshTokenSyntax.problem(refreshToken) {
            result.problems.append(
                ImportProblem(
                    location: location, reason: "has a refresh_token that \(problem) (token put refuses it too)",
                    isSkip: false))
            return
        }
        var claims = IDTokenClaims()
        if let idToken = response["id_token"] as? String {
            guard let decoded = try? IDTokenClaims(decoding: idToken) else {
                result.problems.append(
                    ImportProblem(location: location, reason: "has an id_token that is not a JWT", isSkip: false))
                return
            }
            claims = decoded
        }
        guard let tenant = claims.tenantID ?? defaultTenant, let user = claims.userID else {
            result.problems.append(
                ImportProblem(
                    location: location,
                    reason: claims.userID == nil
                        ? "has no id_token with oid or sub (request the openid scope)"
                        : "has no tid claim (give --tenant for providers without tenants)",
                    isSkip: false))
            return
        }
        let expiresIn = number(response["refresh_token_expires_in"])
        result.records.append(
            ImportRecord(
                key: TokenKey(tenant: tenant, user: user, provider: provider), refreshToken: SecretText(refreshToken),
                issuedAt: now, expiresAt: expiresIn.map { now.addingTimeInterval($0) }, location: location))
    }

    private static func parseAuthMe(_ entries: [Any], provider: String?, defaultTenant: String?, now: Date) -> Result {
        var result = Result()
        for (index, element) in entries.enumerated() {
            let location = "entry \(index + 1)"
            guard let entry = element as? [String: Any] else {
                result.problems.append(ImportProblem(location: location, reason: "not a JSON object", isSkip: false))
                continue
            }
            guard let name = provider ?? (entry["provider_name"] as? String), !name.isEmpty else {
                result.problems.append(
                    ImportProblem(
                        location: location, reason: "has no provider_name (or give --provider)", isSkip: false))
                continue
            }
            guard let refreshToken = entry["refresh_token"] as? String, !refreshToken.isEmpty else {
                result.problems.append(
                    ImportProblem(
                        location: location,
                        reason: "has no refresh_token (enable the token store and request offline_access)", isSkip: true
                    ))
                continue
            }
            if let problem = RefreshTokenSyntax.problem(refreshToken) {
                result.problems.append(
                    ImportProblem(
                        location: location, reason: "has a refresh_token that \(problem) (token put refuses it too)",
                        isSkip: false))
                continue
            }
            var claims = IDTokenClaims()
            if let idToken = entry["id_token"] as? String, let decoded = try? IDTokenClaims(decoding: idToken) {
                claims = decoded
            }
            let userClaims = (entry["user_claims"] as? [[String: Any]]) ?? []
            func claim(_ types: [String]) -> String? {
                userClaims.first { types.contains(($0["typ"] as? String) ?? "") }?["val"] as? String
            }
            let tenant = claims.tenantID ?? claim(tenantClaimTypes) ?? defaultTenant
            let user =
                claims.objectID ?? claim(objectClaimTypes) ?? claims.subject ?? claim(subjectClaimTypes)
                ?? (entry["user_id"] as? String)
            guard let tenant, let user, !tenant.isEmpty, !user.isEmpty else {
                result.problems.append(
                    ImportProblem(
                        location: location,
                        reason: tenant == nil
                            ? "has no tid (in id_token or user_claims); give --tenant"
                            : "has no user id (oid, sub or user_id)",
                        isSkip: false))
                continue
            }
            result.records.append(
                ImportRecord(
                    key: TokenKey(tenant: tenant, user: user, provider: name), refreshToken: SecretText(refreshToken),
                    issuedAt: now, expiresAt: nil, location: location))
        }
        return result
    }

    private static func number(_ value: Any?) -> TimeInterval? {
        if let number = value as? NSNumber { return number.doubleValue }
        if let text = value as? String { return TimeInterval(text) }
        return nil
    }

    /// An OAuth error code is a short ASCII word; anything else is not echoed.
    private static func safe(_ code: String) -> String {
        code.count <= 64 && code.allSatisfy({ $0.isASCII && ($0.isLetter || $0 == "_") }) ? code : "error"
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09
    }
}

/// An import input that cannot be read as a whole.
package struct ImportError: ActionableError {
    package let source: String
    package let problem: String
    package let remedy: String
    package var item: String { source }
    package var exitStatus: ExitStatus { .usage }
}

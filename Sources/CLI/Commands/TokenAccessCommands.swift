import Access
import Foundation
import Spec
import Store
import Support

/// `tokenkeeper token access` and `token obo`: token use, the path a web service takes.

package enum TokenAccessCommands {
    static let specOption = OptionSpec.value(
        "spec", "JOB.yml", "The job spec: the provider's settings, the vault and the store come from it.")

    static let access = Command(
        "access", abstract: "Redeem a stored refresh token (on every call) and print the access token (never stored).",
        usage:
            "--spec JOB.yml --tenant T --user U --provider NAME [--scope S] [--refresh] [--format json|headers|auth-me]",
        discussion: """
            Opens the stored refresh token, redeems it at the provider for an access token, commits any rotated refresh
            token at once, and prints the access token: as JSON (default), as App Service token store headers
            (X-MS-TOKEN-AAD-ACCESS-TOKEN, X-MS-TOKEN-AAD-EXPIRES-ON, ...), or in the JSON shape of App Service's
            /.auth/me. The refresh token itself is never printed. Never waits for the job lock; waits briefly when the
            nightly job holds the row's lease. Exit code 1 when the token is dead (the row becomes needs_reauth).

            A process per call keeps no access token between calls: every `token access` redeems at the provider
            (100-300 ms against a real one, a request counted against its rate limit, and a new refresh token where
            the provider rotates them). Long-running services should use the library's TokenAccess instead (or, once
            there is one, a local endpoint): it keeps access tokens in memory until shortly before they expire and
            shares one redemption among concurrent requests of a user. --refresh asks for a new access token even when one is cached, as App
            Service's /.auth/refresh (here it changes nothing, since this command always redeems).
            """,
        options: [specOption] + TokenCommands.keyOptions + [
            .value("scope", "SCOPE", "The scope to ask for (default: the provider's scope in the spec)."),
            .flag(
                "refresh",
                "Redeem even when an access token is cached (as /.auth/refresh; this command always redeems)."),
            .value("format", "FORMAT", "json (default), headers or auth-me."),
        ]
    ) { invocation in
        let format = try invocation.choice("format", default: AccessTokenFormat.json)
        let spec = try JobSpec.load(path: try invocation.required("spec"))
        try SpecStateOptions.check(invocation, against: spec)
        // One call per process: nothing to keep an access token for.
        let access = try TokenAccess(
            spec: spec, principal: spec.principal ?? invocation.globals.principal,
            environment: invocation.globals.environment,
            caching: .disabled)
        let grant = try await access.accessToken(
            for: try TokenCommands.key(invocation), scope: invocation.value("scope"),
            forceRefresh: invocation.flag("refresh"))
        invocation.console.out(try AccessTokenText.render(grant, format: format))
        return .success
    }

    static let obo = Command(
        "obo", abstract: "On-Behalf-Of: trade a user's access token (standard input) for a refresh token and store it.",
        usage: "--spec JOB.yml --provider NAME [--scope S] < assertion",
        discussion: """
            The add-token sequence of a middle-tier API: reads the access token the user's client sent to this API from
            standard input (never an argument), exchanges it at the provider with grant_type
            urn:ietf:params:oauth:grant-type:jwt-bearer and requested_token_use=on_behalf_of, and stores the refresh token
            that comes back under the tenant (tid) and user (oid, or sub) of the answer's id_token. Prints the row it
            stored, never a token. The scope must include offline_access for the provider to return a refresh token.
            """,
        options: [
            specOption, .value("provider", "NAME", "The provider's name in the job spec."),
            .value("scope", "SCOPE", "The scope to ask for (default: the provider's scope in the spec)."),
        ]
    ) { invocation in
        let spec = try JobSpec.load(path: try invocation.required("spec"))
        try SpecStateOptions.check(invocation, against: spec)
        let provider = try invocation.required("provider")
        let assertion = try StandardInput.readSecret(
            prompt: "The user's access token (input hidden):", console: invocation.console)
        let access = try TokenAccess(
            spec: spec, principal: spec.principal ?? invocation.globals.principal,
            environment: invocation.globals.environment)
        let grant = try await access.onBehalfOf(
            assertion: assertion, provider: provider, scope: invocation.value("scope"))
        invocation.console.out(
            "\(grant.key): stored (On-Behalf-Of refresh token, sealed under \(grant.key.tenant)'s newest key)")
        return .success
    }
}

/// How `token access` prints an access token.
package enum AccessTokenText {
    /// App Service's names per provider kind: the header infix and the /.auth/me provider_name.
    static func appServiceName(_ kind: ProviderSpec.Kind, provider: String) -> (header: String, authMe: String) {
        switch kind {
        case .entra: ("AAD", "aad")
        case .google: ("GOOGLE", "google")
        case .facebook: ("FACEBOOK", "facebook")
        case .x: ("TWITTER", "twitter")
        case .oauth2: (provider.uppercased().replacingOccurrences(of: "_", with: "-"), provider)
        }
    }

    /// The text for `format`.
    package static func render(_ grant: AccessGrant, format: AccessTokenFormat) throws -> String {
        let names = appServiceName(grant.providerKind, provider: grant.key.provider)
        let expires = grant.expiresAt.map(DateText.timestamp)
        switch format {
        case .headers:
            var lines = ["X-MS-TOKEN-\(names.header)-ACCESS-TOKEN: \(grant.accessToken.revealed)"]
            if let expires { lines.append("X-MS-TOKEN-\(names.header)-EXPIRES-ON: \(expires)") }
            if let idToken = grant.idToken { lines.append("X-MS-TOKEN-\(names.header)-ID-TOKEN: \(idToken)") }
            return lines.joined(separator: "\n")
        case .authMe:
            var entry: [String: Any] = [
                "provider_name": names.authMe, "user_id": grant.key.user, "access_token": grant.accessToken.revealed,
                "user_claims": [["typ": "tid", "val": grant.key.tenant], ["typ": "oid", "val": grant.key.user]],
            ]
            if let expires { entry["expires_on"] = expires }
            if let idToken = grant.idToken { entry["id_token"] = idToken }
            return String(
                decoding: try JSONSerialization.data(withJSONObject: [entry], options: [.prettyPrinted, .sortedKeys]),
                as: UTF8.self)
        case .json:
            var object: [String: Any] = [
                "access_token": grant.accessToken.revealed, "token_type": grant.tokenType, "tenant": grant.key.tenant,
                "user": grant.key.user, "provider": grant.key.provider,
            ]
            if let expires { object["expires_on"] = expires }
            if let idToken = grant.idToken { object["id_token"] = idToken }
            return String(
                decoding: try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]),
                as: UTF8.self)
        }
    }
}

/// How `token access` prints a grant.
package enum AccessTokenFormat: String, CaseIterable, Sendable {
    /// A JSON object (the default).
    case json
    /// App Service token store headers.
    case headers
    /// The JSON array `/.auth/me` returns.
    case authMe = "auth-me"
}

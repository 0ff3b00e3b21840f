import Custody
import Foundation
import Store
import Support
import Vault

/// `tokenkeeper token ...`: store, import, list, show, delete and drop refresh tokens.

package enum TokenCommands {
    /// The `token` group.
    package static var group: Command {
        Command(
            "token", abstract: "Store, import, list, show and remove refresh tokens.",
            discussion: """
                Tokens are sealed with AES-256-GCM under the newest data key of their tenant's secret, bound to their
                row (tenant, user, provider, secret, key version). Listings show metadata only; the token itself is
                printed only by `token show --reveal`, which needs the get permission.
                """,
            subcommands: [
                put, TokenImportCommand.command, list, show, delete, dropRefreshToken, TokenAccessCommands.access,
                TokenAccessCommands.obo,
            ])
    }

    static let keyOptions: [OptionSpec] = [
        .value("tenant", "TENANT", "Tenant id (tid); also the vault secret's name."),
        .value("user", "USER", "User id (oid, or sub)."),
        .value("provider", "NAME", "The provider's name in the job spec, for example entra or google."),
    ]

    static func key(_ invocation: Invocation) throws -> TokenKey {
        TokenKey(
            tenant: try invocation.required("tenant"), user: try invocation.required("user"),
            provider: try invocation.required("provider"))
    }

    static let put = Command(
        "put", abstract: "Store one refresh token read from standard input.",
        usage: "--tenant TENANT --user USER --provider NAME [--expires-in DURATION] < token",
        discussion: """
            Reads exactly one refresh token from standard input (never from an argument: arguments show in process
            lists); on a terminal it asks for it without echo. Creates the tenant's vault secret on first use when the
            principal has the set permission (never while stored tokens name a secret the vault has lost). Replaces an
            existing token for the same tenant, user and provider. On a new vault, the first token creates the store
            (--store); a vault whose store has held tokens never gets a new one here: a missing store is restored, or
            replaced with `tokenkeeper state init --replace`.
            """,
        options: keyOptions + [
            .value("expires-in", "DURATION", "When the refresh token expires, if known: 90d, 12h ...")
        ]
    ) { invocation in
        let key = try key(invocation)
        var expiresAt: Date?
        if let text = invocation.value("expires-in") {
            guard let seconds = DurationText.seconds(text) else {
                throw UsageError(
                    command: invocation.path, problem: "--expires-in '\(text)' is not a duration",
                    remedy: "\(DurationText.hint).")
            }
            expiresAt = Date().addingTimeInterval(seconds)
        }
        let token = try StandardInput.readSecret(
            prompt: "Refresh token for \(key) (input hidden):", console: invocation.console)
        let custodian = try VaultAccess.openCustodian(invocation.globals, source: .createForNewVault)
        let outcome = try custodian.put(key, token: token, issuedAt: Date(), expiresAt: expiresAt)
        invocation.console.out(
            "\(key): \(outcome.rawValue) (sealed with \(key.tenant) version \(try custodian.store.get(key)?.keyVersion ?? 0))"
        )
        return .success
    }

    static let list = Command(
        "list", abstract: "List stored tokens: metadata only, never a token.",
        usage: "[--tenant T] [--provider NAME] [--status S] [--format text|json]",
        options: [
            .value("tenant", "TENANT", "Only this tenant."), .value("user", "USER", "Only this user."),
            .value("provider", "NAME", "Only this provider."),
            .value("status", "STATUS", "Only rows in this status: active, needs_reauth, revoked."),
            .value("format", "FORMAT", "text (default) or json."),
        ]
    ) { invocation in
        let format = try invocation.choice("format", ["text", "json"], default: "text")
        let status = try invocation.value("status").map { text in
            guard let status = TokenStatus(rawValue: text) else {
                throw UsageError(
                    command: invocation.path, problem: "unknown status '\(text)'",
                    remedy: "Use active, needs_reauth or revoked.")
            }
            return status
        }
        let custodian = try VaultAccess.openCustodian(invocation.globals, readOnly: true)
        var rows: [[String]] = []
        var objects: [TokenMetadata] = []
        try custodian.listTokens(
            tenant: invocation.value("tenant"), user: invocation.value("user"), provider: invocation.value("provider"),
            status: status
        ) { row in
            if format == "json" { objects.append(TokenMetadata(row)) } else { rows.append(TokenMetadata(row).columns) }
            return true
        }
        invocation.console.out(
            format == "json" ? try JSONText.encode(objects) : TextTable.render(header: TokenMetadata.header, rows: rows)
        )
        return .success
    }

    static let show = Command(
        "show", abstract: "Show one token's metadata; the token itself only with --reveal.",
        usage: "--tenant TENANT --user USER --provider NAME [--reveal] [--format text|json]",
        discussion: "--reveal prints the refresh token to standard output; it needs the get permission and is audited.",
        options: keyOptions + [
            .flag("reveal", "Also print the refresh token itself."),
            .value("format", "FORMAT", "text (default) or json."),
        ]
    ) { invocation in
        let key = try key(invocation)
        let format = try invocation.choice("format", ["text", "json"], default: "text")
        let reveal = invocation.flag("reveal")
        let custodian = try VaultAccess.openCustodian(invocation.globals, readOnly: !reveal)
        let (row, token) = try custodian.showToken(key, reveal: reveal)
        let metadata = TokenMetadata(row)
        if format == "json" {
            invocation.console.out(try JSONText.encode(metadata))
        } else {
            for (name, value) in zip(TokenMetadata.header, metadata.columns) {
                invocation.console.out(name.lowercased().padding(toLength: 14, withPad: " ", startingAt: 0) + value)
            }
        }
        if let token { invocation.console.out(token.revealed) }
        return .success
    }

    static let delete = Command(
        "delete", abstract: "Delete a token's record (the user is gone).",
        usage: "--tenant TENANT --user USER --provider NAME",
        discussion: "Needs the delete permission. Deleting a record that is already gone succeeds and says so.",
        options: keyOptions
    ) { invocation in
        let key = try key(invocation)
        let removed = try VaultAccess.openCustodian(invocation.globals).deleteToken(key)
        invocation.console.out("\(key): \(removed ? "deleted" : "already gone")")
        return .success
    }

    static let dropRefreshToken = Command(
        "drop-refresh-token", abstract: "Drop the refresh token but keep the record (the app's access ends).",
        usage: "--tenant TENANT --user USER --provider NAME",
        discussion: "Needs the delete permission. The record stays with status revoked, for reporting.",
        options: keyOptions
    ) { invocation in
        let key = try key(invocation)
        let dropped = try VaultAccess.openCustodian(invocation.globals).dropRefreshToken(key)
        invocation.console.out("\(key): \(dropped ? "refresh token dropped" : "already dropped")")
        return .success
    }
}

/// A row's metadata as listings print it: never the token.
struct TokenMetadata: Encodable {
    var tenant, user, provider: String
    var keyVersion: Int
    var status: String
    var hasToken: Bool
    var issuedAt, refreshedAt: String
    var expiresAt: String?
    var failureCount: Int
    var lastErrorCode: String?

    init(_ row: StoredToken) {
        tenant = row.key.tenant
        user = row.key.user
        provider = row.key.provider
        keyVersion = row.keyVersion
        status = row.status.rawValue
        hasToken = row.sealedToken != nil
        issuedAt = DateText.timestamp(row.issuedAt)
        refreshedAt = DateText.timestamp(row.refreshedAt)
        expiresAt = row.expiresAt.map(DateText.timestamp)
        failureCount = row.failureCount
        lastErrorCode = row.lastErrorCode
    }

    static let header = ["TENANT", "USER", "PROVIDER", "KEY", "STATUS", "ISSUED", "REFRESHED", "EXPIRES", "FAILURES"]
    /// The text columns; ids are escaped (a user id from an unverified id_token may hold a line break).
    var columns: [String] {
        [
            DisplayText.escaped(tenant), DisplayText.escaped(user), DisplayText.escaped(provider), "v\(keyVersion)",
            status + (hasToken ? "" : " (no token)"), issuedAt, refreshedAt, expiresAt ?? "-",
            failureCount == 0 ? "0" : "\(failureCount) (\(DisplayText.escaped(lastErrorCode ?? "?")))",
        ]
    }

    enum CodingKeys: String, CodingKey {
        case tenant, user, provider, status
        case keyVersion = "key_version", hasToken = "has_token", issuedAt = "issued_at", refreshedAt = "refreshed_at"
        case expiresAt = "expires_at", failureCount = "failure_count", lastErrorCode = "last_error_code"
    }
}

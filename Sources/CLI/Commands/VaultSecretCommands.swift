import Foundation
import Support
import Vault

/// `tokenkeeper vault secret ...`: the tenants' secrets and their versions.

package enum VaultSecretCommands {
    /// The `vault secret` group.
    package static var group: Command {
        Command(
            "secret", abstract: "Create, rotate, list, disable, delete, recover and purge secrets.",
            subcommands: [create, rotate, list, versions, disable, delete, recover, purge, deleted])
    }

    private static func named(_ invocation: Invocation) -> String { invocation.positionals[0] }

    static let create = Command(
        "create", abstract: "Create a secret with version 1 (needs set).", usage: "NAME",
        discussion: "NAME is 1-127 characters of 0-9, a-z, A-Z and '-' (Key Vault's rule); by default a tenant id.",
        positionals: 1...1
    ) { invocation in
        let version = try VaultAccess.openVault(invocation.globals).createSecret(named(invocation))
        invocation.console.out("\(named(invocation)) version \(version.number) created")
        return .success
    }

    static let rotate = Command(
        "rotate", abstract: "Add a new version to a secret (needs set).", usage: "NAME",
        discussion: "New tokens are sealed with the newest version; `tokenkeeper run` rewraps old ones.",
        positionals: 1...1
    ) { invocation in
        let version = try VaultAccess.openVault(invocation.globals).addVersion(to: named(invocation))
        invocation.console.out("\(named(invocation)) version \(version.number) created")
        return .success
    }

    static let list = Command(
        "list", abstract: "List secrets (needs list).", usage: "[--format text|json]",
        options: [.value("format", "FORMAT", "text (default) or json.")]
    ) { invocation in
        let format = try invocation.choice("format", ["text", "json"], default: "text")
        let secrets = try VaultAccess.openVault(invocation.globals, readOnly: true).secrets()
        if format == "json" {
            invocation.console.out(
                try JSONText.encode(
                    secrets.map {
                        [
                            "name": $0.name, "latest_version": String($0.latestVersion),
                            "versions": String($0.versionCount),
                            "created": DateText.timestamp($0.createdAt),
                        ]
                    }))
        } else {
            invocation.console.out(
                TextTable.render(
                    header: ["SECRET", "LATEST", "VERSIONS", "CREATED"],
                    rows: secrets.map {
                        [$0.name, String($0.latestVersion), String($0.versionCount), DateText.day($0.createdAt)]
                    }))
        }
        return .success
    }

    static let versions = Command(
        "versions", abstract: "List a secret's versions with dates (needs list).", usage: "NAME",
        positionals: 1...1
    ) { invocation in
        let versions = try VaultAccess.openVault(invocation.globals, readOnly: true).versions(of: named(invocation))
        invocation.console.out(
            TextTable.render(
                header: ["VERSION", "CREATED", "STATE"],
                rows: versions.map {
                    [String($0.number), DateText.timestamp($0.createdAt), $0.enabled ? "enabled" : "disabled"]
                }))
        return .success
    }

    static let disable = Command(
        "disable", abstract: "Disable one version of a secret (needs set).", usage: "NAME --version N",
        options: [.value("version", "N", "The version to disable.")], positionals: 1...1
    ) { invocation in
        let version = try invocation.requiredInteger("version", in: 1...Int.max, example: 1)
        try VaultAccess.openVault(invocation.globals).disableVersion(secret: named(invocation), version: version)
        invocation.console.out("\(named(invocation)) version \(version) disabled")
        return .success
    }

    static let delete = Command(
        "delete", abstract: "Soft-delete a secret: its tokens become unreadable (needs delete).", usage: "NAME",
        discussion: "The secret is kept until its purge date (the vault's retention); `recover` brings it back.",
        positionals: 1...1
    ) { invocation in
        let vault = try VaultAccess.openVault(invocation.globals)
        try vault.deleteSecret(named(invocation))
        let purgeDate = try vault.deletedSecrets().first { $0.name == named(invocation) }?.scheduledPurgeAt
        invocation.console.out(
            "\(named(invocation)) deleted; recoverable until \(purgeDate.map(DateText.day) ?? "its purge date")")
        return .success
    }

    static let recover = Command(
        "recover", abstract: "Recover a soft-deleted secret (needs recover).", usage: "NAME",
        positionals: 1...1
    ) { invocation in
        try VaultAccess.openVault(invocation.globals).recoverSecret(named(invocation))
        invocation.console.out("\(named(invocation)) recovered")
        return .success
    }

    static let purge = Command(
        "purge", abstract: "Purge a soft-deleted secret for good (needs purge).", usage: "NAME",
        discussion: "Irreversible: every token sealed with this secret is lost for good.",
        positionals: 1...1
    ) { invocation in
        try VaultAccess.openVault(invocation.globals).purgeSecret(named(invocation))
        invocation.console.out("\(named(invocation)) purged")
        return .success
    }

    static let deleted = Command("deleted", abstract: "List soft-deleted secrets and their purge dates (needs list).") {
        invocation in
        let secrets = try VaultAccess.openVault(invocation.globals, readOnly: true).deletedSecrets()
        invocation.console.out(
            TextTable.render(
                header: ["SECRET", "DELETED", "PURGE ON"],
                rows: secrets.map { [$0.name, DateText.day($0.deletedAt), DateText.day($0.scheduledPurgeAt)] }))
        return .success
    }
}

import Foundation
import Support
import Vault

/// `tokenkeeper vault policy ...`: who may do what, as Key Vault access policies.

package enum VaultPolicyCommands {
    /// The `vault policy` group.
    package static var group: Command {
        Command(
            "policy", abstract: "Set, show and remove access policies.",
            discussion: """
                A policy gives a principal some of the permissions get, list, set, delete, recover and purge.
                Changing policies needs every permission (the vault's administrators). Policies guard against
                mistakes and misuse by principals that run tokenkeeper; they do not stop someone who holds the
                master key and can write the vault's files (see the README's security model).
                """,
            subcommands: [set, show, remove])
    }

    static let set = Command(
        "set", abstract: "Give a principal a set of permissions (replaces its policy).",
        usage: "PRINCIPAL --permissions LIST",
        options: [.value("permissions", "LIST", "Comma-separated: get,list,set,delete,recover,purge (or all).")],
        positionals: 1...1
    ) { invocation in
        let text = try invocation.required("permissions")
        var permissions: Set<VaultPermission> = []
        for word in text.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !word.isEmpty {
            if word == "all" { permissions.formUnion(VaultPermission.allCases); continue }
            guard let permission = VaultPermission(rawValue: word) else {
                let names = VaultPermission.allCases.map(\.rawValue)
                throw UsageError(
                    command: invocation.path, problem: "unknown permission '\(word)'",
                    remedy: Suggestion.closest(to: word, among: names).map { "Did you mean '\($0)'?" }
                        ?? "Permissions: \(names.joined(separator: ", ")).")
            }
            permissions.insert(permission)
        }
        try VaultAccess.openVault(invocation.globals).setPolicy(
            for: invocation.positionals[0], permissions: permissions)
        invocation.console.out(
            "\(invocation.positionals[0]): \(VaultPermission.allCases.filter(permissions.contains).map(\.rawValue).joined(separator: ","))"
        )
        return .success
    }

    static let show = Command("show", abstract: "Show every principal's permissions (needs list).") { invocation in
        let policies = try VaultAccess.openVault(invocation.globals, readOnly: true).policies()
        invocation.console.out(
            TextTable.render(
                header: ["PRINCIPAL", "PERMISSIONS"],
                rows: policies.map { policy in
                    [
                        policy.principal,
                        VaultPermission.allCases.filter(policy.permissions.contains).map(\.rawValue).joined(
                            separator: ","),
                    ]
                }))
        return .success
    }

    static let remove = Command(
        "remove", abstract: "Remove a principal's policy.", usage: "PRINCIPAL", positionals: 1...1
    ) { invocation in
        try VaultAccess.openVault(invocation.globals).removePolicy(for: invocation.positionals[0])
        invocation.console.out("\(invocation.positionals[0]): policy removed")
        return .success
    }
}

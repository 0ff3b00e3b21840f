import Custody
import Foundation
import Spec
import Store
import Support
import Vault

/// `tokenkeeper state ...`: the token store a vault serves.

package enum StateCommands {
    /// The `state` group.
    package static var group: Command {
        Command(
            "state", abstract: "Create the token store a vault serves, or move a whole state elsewhere.",
            discussion: """
                The vault records the identity of the store it serves and whether that store has held tokens. No
                command makes a store behind your back: a missing, empty or different store stops every command with
                exit code 3, naming both, so a share that did not mount or a bad copy never passes for a new store
                (and no run purges the key versions the real store's tokens need). A new store comes from
                `state init`, or from the first `token put` or `token import` on a new vault.
                """,
            subcommands: [initCommand, StateCopyCommand.command])
    }

    static let initCommand = Command(
        "init", abstract: "Create a new, empty token store and make the vault serve it.",
        usage: "[--spec JOB.yml] [--replace]",
        discussion: """
            Creates the store (--store, or the spec's store.sqlite; mode 0600, its folder 0700 when missing) and records
            its identity in the vault (--vault, or the spec's vault.path). Never overwrites anything: a file at the
            store's path, even an empty one, is refused. A vault whose store has held tokens keeps waiting for that store
            (restore it from a backup); --replace makes the vault serve the new store instead, for a store lost for good:
            its tokens can then never be opened again once rotation purges their key versions. --replace needs every
            permission.
            """,
        options: [
            .value("spec", "JOB.yml", "Take vault, store and master key from this job spec."),
            .flag("replace", "Serve the new store in place of a lost one that has held tokens."),
        ]
    ) { invocation in
        let vault: FileVault
        let storePath: String
        if let specPath = invocation.value("spec") {
            let spec = try JobSpec.load(path: specPath)
            try SpecStateOptions.check(invocation, against: spec)
            let masterKey =
                try invocation.globals.masterKeyFile.map { try MasterKey(contentsOfFile: $0) }
                ?? spec.loadMasterKey(environment: invocation.globals.environment)
            vault = try FileVault.open(
                at: spec.vaultPath, masterKey: masterKey, principal: spec.principal ?? invocation.globals.principal)
            storePath = spec.storePath
        } else {
            vault = try VaultAccess.openVault(invocation.globals)
            storePath = invocation.globals.storePath
        }
        let store = try StateBinding.openStore(
            at: storePath, vault: vault, source: .create(replacing: invocation.flag("replace")))
        invocation.console.err(
            "Created store \(storePath) (identity \(store.identity.id)); vault \(vault.path) serves it.")
        return .success
    }
}

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
            "state",
            abstract: "Create the token store a vault serves, migrate its tokens, or move a whole state elsewhere.",
            discussion: """
                The vault records the identity of the store it serves and whether that store has held tokens. No
                command makes a store behind your back: a missing, empty or different store stops every command with
                exit code 3, naming both, so a share that did not mount or a bad copy never passes for a new store
                (and no run purges the key versions the real store's tokens need). A new store comes from
                `state init`, or from the first `token put` or `token import` on a new vault.
                """,
            subcommands: [initCommand, migrateCommand, StateCopyCommand.command])
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
        let vault: any KeyVault
        let location: StoreLocation
        if let specPath = invocation.value("spec") {
            let spec = try JobSpec.load(path: specPath)
            try SpecStateOptions.check(invocation, against: spec)
            let masterKey =
                try invocation.globals.masterKeyFile.map { try MasterKey(contentsOfFile: $0) }
                ?? spec.loadMasterKey(environment: invocation.globals.environment)
            vault = try VaultOpener.open(
                spec.vault, masterKey: masterKey, principal: spec.principal ?? invocation.globals.principal,
                environment: invocation.globals.environment)
            location = spec.store
        } else {
            vault = try VaultAccess.openVault(invocation.globals)
            location = try invocation.globals.store
        }
        let store = try StateBinding.openStore(
            location, vault: vault, source: .create(replacing: invocation.flag("replace")),
            environment: invocation.globals.environment)
        invocation.console.err(
            "Created store \(location) (identity \(store.identity.id)); vault \(vault.location) serves it.")
        return .success
    }

    static let migrateCommand = Command(
        "migrate", abstract: "Move every token still sealed in the old format to envelope encryption.",
        usage: "[--spec JOB.yml] [--batch-size N]",
        discussion: """
            Stores written before envelope encryption seal each token directly under its tenant's key. This seals each
            such token again under its own data key, wrapped by the tenant's newest key version, in short batched
            transactions; token use goes on meanwhile. It needs the vault's keys, so it never runs when a store is
            merely opened; the rotate stage does the same as part of a rotation. Until it has finished, every command
            reads both formats; a run that is killed is finished by the next. Exit code 1 when some tokens could not be
            opened (they are named and left as they are).
            """,
        options: [
            .value("spec", "JOB.yml", "Take vault, store and master key from this job spec."),
            .value("batch-size", "N", "Rows per transaction (default 500)."),
        ]
    ) { invocation in
        let custodian: TokenCustodian
        if let specPath = invocation.value("spec") {
            let spec = try JobSpec.load(path: specPath)
            try SpecStateOptions.check(invocation, against: spec)
            let masterKey =
                try invocation.globals.masterKeyFile.map { try MasterKey(contentsOfFile: $0) }
                ?? spec.loadMasterKey(environment: invocation.globals.environment)
            let state = try JobState.open(
                spec: spec, masterKey: masterKey, principal: spec.principal ?? invocation.globals.principal,
                readOnly: false, environment: invocation.globals.environment)
            custodian = TokenCustodian(vault: state.vault, store: state.store)
        } else {
            custodian = try VaultAccess.openCustodian(invocation.globals)
        }
        let batchSize = try invocation.integer("batch-size", default: 500, in: 1...20_000)
        let result = try EnvelopeMigration.run(custodian: custodian, batchSize: batchSize) { item, error in
            invocation.console.err("\(item): \((error as? any ActionableError)?.description ?? "\(type(of: error))")")
        }
        var line = "Migrated \(CountText.of(result.migrated, "token")) to envelope encryption"
        if result.failed + result.failedTenants > 0 {
            line +=
                "; \(CountText.of(result.failed, "token")) and \(CountText.of(result.failedTenants, "tenant")) failed"
        }
        line += String(
            format: " (longest store write %.1f ms, longest checkpoint %.1f ms).",
            result.timings.longestTransaction * 1000, result.timings.longestCheckpoint * 1000)
        invocation.console.err(line)
        return result.failed + result.failedTenants > 0 ? .itemsFailed : .success
    }
}

import Custody
import Foundation
import Spec
import Support
import Vault

#if canImport(Glibc)

    import Glibc
#endif

/// `tokenkeeper vault ...`: create the vault, manage secrets, policies and the master key.

package enum VaultCommands {
    /// The `vault` group.
    package static var group: Command {
        Command(
            "vault", abstract: "Create and manage the file-backed key vault.",
            discussion: """
                The vault holds one secret per tenant. Each secret has ordered, immutable versions; each version is a
                random 256-bit data key wrapped with AES-256-GCM under the master key. Every operation is checked
                against the access policy of --principal and written to the vault's audit log (never a value).
                """,
            subcommands: [
                initCommand, VaultSecretCommands.group, VaultPolicyCommands.group, rekeyCommand, auditCommand,
            ])
    }

    static let initCommand = Command(
        "init", abstract: "Create a vault with a new random master key.",
        usage: "[PATH | postgres:env:NAME | postgres:file:PATH] [--master-key-out FILE] [--retention-days N]",
        discussion: """
            Creates the vault folder (mode 0700) and its files (0600), and a random 32-byte master key. The key is
            written once to --master-key-out (created 0600, never overwritten) or, without it, printed once to
            standard output: keep it in your secret store (for example an Azure Key Vault secret mapped to
            TOKENKEEPER_MASTER_KEY). It is stored nowhere else; without it the vault cannot be opened.
            The principal running init (--principal) gets every permission.
            PATH defaults to --vault (./state/vault). postgres:env:NAME (or postgres:file:PATH, a 0600 file) creates the
            vault in the PostgreSQL database whose connection string that variable (or file) holds.
            """,
        options: [
            .value(
                "master-key-out", "FILE",
                "Write the new master key (base64) to FILE, mode 0600, instead of printing it."),
            .value("retention-days", "N", "Days a deleted secret is kept before it can be purged (7-90, default 90)."),
        ],
        positionals: 0...1
    ) { invocation in
        var globals = invocation.globals
        if let given = invocation.positionals.first {
            globals.vaultPath = given
            globals.vaultSource = "vault init's PATH"
        }
        let location = try globals.vault
        let path = location.description
        let principal = try invocation.globals.principal  // before anything is created: init gives it every permission
        let retention = try invocation.integer("retention-days", default: 90, in: 7...90)
        // Check everything first, then write the key file, then make the vault: a refused init leaves no key
        // file, and one whose vault cannot be made removes the key file it wrote (a key for no vault).
        try VaultOpener.checkInitializable(location, retentionDays: retention, environment: globals.environment)
        let out = invocation.value("master-key-out")
        if let out { try requireNewKeyFile(out, option: "--master-key-out") }
        let masterKey = try MasterKey.generate()
        if let out { try PrivateFiles.writeNew(Array((masterKey.base64 + "\n").utf8), to: out) }
        do {
            try VaultOpener.initialize(
                location, masterKey: masterKey, principal: principal, retentionDays: retention,
                environment: globals.environment)
        } catch {
            if let out, unlink(out) == 0 {
                invocation.console.err(
                    "tokenkeeper: removed \(out): the vault its key was made for could not be created")
            }
            throw error
        }
        if let out {
            invocation.console.err("Created vault \(path); master key written to \(out) (mode 0600).")
        } else {
            invocation.console.err(
                "Created vault \(path). The master key follows; it is shown once and stored nowhere:")
            invocation.console.out(masterKey.base64)
        }
        invocation.console.err("Principal '\(principal)' has every permission.")
        return .success
    }

    static let rekeyCommand = Command(
        "rekey", abstract: "Rewrap every data key under a new master key.",
        usage: "--new-master-key-out FILE | --new-master-key-file FILE",
        discussion: """
            Generates a new master key (written first to --new-master-key-out, mode 0600) or takes one from
            --new-master-key-file, then rewraps every version of every secret, soft-deleted ones included, under it.
            Crash-safe: if it is interrupted, run the same command again with the same files. Afterwards only the new
            key opens the vault. Needs every permission.
            """,
        options: [
            .value("new-master-key-out", "FILE", "Generate the new key and write it to FILE (0600, must not exist)."),
            .value("new-master-key-file", "FILE", "Use the base64 key in FILE (0600) as the new master key."),
        ]
    ) { invocation in
        let newKey: MasterKey
        if let file = invocation.value("new-master-key-file") {
            newKey = try MasterKey(fileNamedBy: "--new-master-key-file", path: file)
        } else if let out = invocation.value("new-master-key-out") {
            try requireNewKeyFile(
                out, option: "--new-master-key-out",
                remedy: "To resume an interrupted rekey, pass it as --new-master-key-file \(out).")
            newKey = try MasterKey.generate()
            try PrivateFiles.writeNew(Array((newKey.base64 + "\n").utf8), to: out)
        } else {
            throw UsageError(
                command: invocation.path, problem: "no new master key given",
                remedy: "Add --new-master-key-out FILE to generate one, or --new-master-key-file FILE.")
        }
        let location = try invocation.globals.vault
        if case .folder(let path) = location, FileVault.hasInterruptedRekey(at: path) {
            try FileVault.resumeRekey(
                at: path, oldMasterKey: VaultAccess.masterKey(invocation.globals),
                newMasterKey: newKey, principal: invocation.globals.principal)
        } else {
            switch try VaultAccess.openVault(invocation.globals) {
            case let vault as FileVault: try vault.rekey(to: newKey)
            case let vault as PostgresVault: try vault.rekey(to: newKey)
            case let vault:
                throw UnsupportedVaultCommandError(command: "tokenkeeper vault rekey", location: vault.location)
            }
        }
        let path = location.description
        invocation.console.err("Rekeyed \(path). Use the new master key from now on.")
        return .success
    }

    /// Refuses a key file path that exists (a master key file is never overwritten) or whose folder does not.
    static func requireNewKeyFile(_ path: String, option: String, remedy: String? = nil) throws {
        try MasterKey.refuseKeyAsPath(path, option: option)
        var info = stat()
        guard lstat(path, &info) != 0 else {
            throw GeneralError(
                item: path, problem: "already exists; tokenkeeper never overwrites a master key file",
                remedy: remedy ?? "Choose a new path for \(option).", exitStatus: .usage)
        }
        let folder = PathText.parent(of: path)
        guard folder.isEmpty || PrivateFiles.exists(folder) else {
            throw GeneralError(
                item: path, problem: "its folder \(folder) does not exist",
                remedy: "Create the folder first, or choose another path for \(option).",
                exitStatus: .usage)
        }
    }

    static let auditCommand = Command(
        "audit", abstract: "Show the vault's audit log (who did what; never a value).", usage: "[--tail N]",
        options: [.value("tail", "N", "Show only the last N entries (default 50).")]
    ) { invocation in
        let count = try invocation.integer("tail", default: 50, in: 1...1_000_000)
        let entries: [String]
        switch try VaultAccess.openVault(invocation.globals, readOnly: true) {
        case let vault as FileVault: entries = try vault.auditEntries(last: count)
        case let vault as PostgresVault: entries = try vault.auditEntries(last: count)
        case let vault: throw UnsupportedVaultCommandError(command: "tokenkeeper vault audit", location: vault.location)
        }
        for line in entries {
            invocation.console.out(line)
        }
        return .success
    }
}

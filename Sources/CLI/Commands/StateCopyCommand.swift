import Custody
import Foundation
import Runner
import Spec
import Store
import Support
import Vault

/// `tokenkeeper state copy`: moves the whole state (--vault and --store) to another vault and store.

enum StateCopyCommand {
    static let command = Command(
        "copy", abstract: "Move the whole state to another vault and store, then mark the source as moved.",
        usage:
            "--to-vault VAULT --to-store STORE [--to-master-key-file FILE] [--lock-timeout SECONDS] [--batch-size N]",
        discussion: """
            Copies everything the vault (--vault) and the store it serves (--store) hold: every secret with every
            version (numbers kept, each data key rewrapped under the destination's master key), soft-deleted secrets
            with their purge dates, access policies, and every token row with its bookkeeping, as sealed bytes: no
            token is decrypted for the copy. Leases are not copied. The audit log stays with the source.

            The destination vault must be made first with `tokenkeeper vault init` (its own master key, given here
            with --to-master-key-file or TOKENKEEPER_TO_MASTER_KEY); the destination store is made when missing, and
            must otherwise be empty. A destination holding tokens or secrets is refused, unless it is the partial
            result of this same copy, which resumes.

            Steps: take the job lock of both states; mark the source frozen (token use is refused with exit 3, "being
            copied", before anything is redeemed; refreshes under way finish first); copy; verify (every token opens at
            the destination, secrets, policies, rows and counts per tenant and key version match); mark the source
            moved: from then on every command on it fails with exit 3 naming the destination. Interrupted at any
            point (even kill -9), the same command run again finishes the copy; run after it finished, it says so.

            Prints a summary (secrets, versions, policies, rows and tokens per tenant), never a value: `key=value`
            lines on standard output, messages and progress (on a terminal) on standard error.
            """,
        options: [
            .value(
                "to-vault", "VAULT",
                "The destination vault (made first with `vault init`): a folder, postgres:env:NAME or postgres:file:PATH."
            ),
            .value(
                "to-store", "STORE",
                "The destination store, new or empty: a path, postgres:env:NAME or postgres:file:PATH."),
            .value(
                "to-master-key-file", "FILE",
                "File holding the destination's base64 master key, mode 0600 (else env TOKENKEEPER_TO_MASTER_KEY)."),
            .value("lock-timeout", "SECONDS", "How long to wait for a job holding either state (default 30)."),
            .value("batch-size", "N", "Rows per read and per write transaction (default 500)."),
        ]
    ) { invocation in
        let destination = try destinationLocations(invocation)
        let timeout = try lockTimeout(invocation)
        let globals = invocation.globals
        let environment = globals.environment
        // The job lock of both states, as `run` takes each (the advisory lock of a PostgreSQL store, the
        // file lock beside a folder or an SQLite file).
        let lock = try JobLockHold.acquire(
            stores: [try globals.store, destination.store], vaults: [try globals.vault, destination.vault],
            owner: "state copy", timeout: timeout, environment: environment)
        defer { lock.release() }
        let destinationVault = try VaultOpener.open(
            destination.vault, masterKey: destinationMasterKey(invocation), principal: globals.principal,
            environment: environment)
        let destinationStore = try StateBinding.openStore(
            destination.store, vault: destinationVault, source: .createForNewVault, environment: environment)
        let destinationName = StateCopier.name(vault: destinationVault.location, store: destinationStore.location)
        let sourceName = StateCopier.name(
            vault: try globals.vault.description, store: try globals.store.description)

        // A source already marked moved to this destination: the copy is done (finish its last marks).
        let sourceVault: any KeyVault
        do {
            sourceVault = try VaultAccess.openVault(globals)
        } catch StateMarkError.moved(_, let to) where to == destinationName {
            try StateCopier.finishMoved(
                sourceVault: nil, sourceName: sourceName, destinationVault: destinationVault,
                destinationStore: destinationStore)
            return report(StateCopySummary.done, invocation, destination: destinationName)
        }
        let sourceStore: any TokenStore
        do {
            sourceStore = try VaultAccess.openStore(globals, vault: sourceVault)
        } catch StateMarkError.moved(_, let to) where to == destinationName {
            try StateCopier.finishMoved(
                sourceVault: sourceVault, sourceName: sourceName, destinationVault: destinationVault,
                destinationStore: destinationStore)
            return report(StateCopySummary.done, invocation, destination: destinationName)
        }

        let copier = StateCopier(
            sourceVault: sourceVault, sourceStore: sourceStore, destinationVault: destinationVault,
            destinationStore: destinationStore)
        copier.batchSize = try batchSize(invocation)
        let meter = ProgressMeter(console: invocation.console)
        var stage = ""
        var shown = 0
        copier.progress = { step in
            let (name, done, total, unit): (String, Int, Int, String) =
                switch step {
                case .waitingForLeases(let rows): ("wait for refreshes under way", 0, rows, "rows leased")
                case .secrets(let done, let total): ("copy secrets", done, total, "secrets")
                case .rows(let done, let total): ("copy rows", done, total, "rows")
                case .verifying(let done, let total): ("verify", done, total, "rows")
                }
            if name != stage {
                if !stage.isEmpty { meter.end(stage: stage, summary: "done") }
                stage = name
                shown = 0
                meter.begin(stage: name, total: total, unit: unit)
            }
            meter.advance(done - shown)
            shown = done
        }
        let summary = try copier.run()
        if !stage.isEmpty { meter.end(stage: stage, summary: "done") }
        return report(summary, invocation, destination: destinationName)
    }

    /// The destination's locations: each a path, `postgres:env:NAME` or `postgres:file:PATH`, read by the
    /// one parser of state locations (``StateLocationText``), as --vault and --store are. A command line
    /// never relaxes TLS.
    static func destinationLocations(_ invocation: Invocation) throws -> (vault: VaultLocation, store: StoreLocation) {
        func text(_ option: String) throws -> StateLocationText.Parsed {
            guard let value = invocation.value(option), !value.isEmpty else {
                throw UsageError(
                    command: invocation.path, problem: "--\(option) is required",
                    remedy: "Name the destination with --to-vault VAULT --to-store STORE.")
            }
            return try StateLocationText.parse(
                value, option: "--\(option)", baseDirectory: FileManager.default.currentDirectoryPath)
        }
        let vault: VaultLocation =
            switch try text("to-vault") {
            case .path(let path): .folder(path: path)
            case .postgres(let connection): .postgres(connection: connection, tls: .verifiedOffHost)
            }
        let store: StoreLocation =
            switch try text("to-store") {
            case .path(let path): .sqlite(path: path)
            case .postgres(let connection): .postgres(connection: connection, tls: .verifiedOffHost)
            }
        return (vault, store)
    }

    /// `--lock-timeout`, 30 s by default.
    static func lockTimeout(_ invocation: Invocation) throws -> TimeInterval {
        guard let text = invocation.value("lock-timeout") else { return 30 }
        guard let seconds = TimeInterval(text), seconds >= 0, seconds.isFinite else {
            throw UsageError(
                command: invocation.path, problem: "--lock-timeout must be a number of seconds",
                remedy: "For example --lock-timeout 60.")
        }
        return seconds
    }

    /// `--batch-size`, 500 by default.
    static func batchSize(_ invocation: Invocation) throws -> Int {
        guard let text = invocation.value("batch-size") else { return 500 }
        guard let size = Int(text), (1...100_000).contains(size) else {
            throw UsageError(
                command: invocation.path, problem: "--batch-size must be a whole number from 1 to 100000",
                remedy: "For example --batch-size 1000.")
        }
        return size
    }

    /// The destination's master key: --to-master-key-file, else TOKENKEEPER_TO_MASTER_KEY.
    static func destinationMasterKey(_ invocation: Invocation) throws -> MasterKey {
        if let file = invocation.value("to-master-key-file") {
            return try MasterKey(fileNamedBy: "--to-master-key-file", path: file, variable: "TOKENKEEPER_TO_MASTER_KEY")
        }
        if let text = invocation.globals.environment["TOKENKEEPER_TO_MASTER_KEY"], !text.isEmpty {
            return try MasterKey(base64: text, source: "TOKENKEEPER_TO_MASTER_KEY")
        }
        throw GeneralError(
            item: "destination master key",
            problem:
                "no master key for the destination vault: neither --to-master-key-file nor TOKENKEEPER_TO_MASTER_KEY is set",
            remedy:
                "Pass --to-master-key-file FILE (the key `tokenkeeper vault init` wrote for the destination vault), "
                + "or set TOKENKEEPER_TO_MASTER_KEY.")
    }

    /// Prints the summary: counts as `key=value` lines on standard output, a sentence on standard error.
    static func report(_ summary: StateCopySummary, _ invocation: Invocation, destination: String) -> ExitStatus {
        let console = invocation.console
        if summary.alreadyDone {
            console.err("The state was copied to \(destination) already and is marked moved; nothing to do.")
            console.out("state_copy=done already=true")
            return .success
        }
        console.out(
            "state_copy=done resumed=\(summary.resumed) secrets=\(summary.secrets) "
                + "deleted_secrets=\(summary.deletedSecrets) versions=\(summary.versions) policies=\(summary.policies) "
                + "rows=\(summary.rows) tokens=\(summary.tokens) tokens_opened=\(summary.tokensOpened) "
                + "tokens_not_openable=\(summary.tokensNotOpenable)")
        for tenant in summary.tenants {
            let versions = tenant.tokensPerVersion.sorted { $0.key < $1.key }.map { "v\($0.key):\($0.value)" }
            console.out(
                "tenant=\(tenant.tenant) rows=\(tenant.rows) tokens=\(tenant.tokens) "
                    + "by_version=\(versions.isEmpty ? "-" : versions.joined(separator: ","))")
        }
        console.err(
            "Copied \(CountText.of(summary.secrets, "secret")), \(CountText.of(summary.rows, "row")) "
                + "(\(CountText.of(summary.tokens, "token")), every one verified) to \(destination); the source is marked moved."
        )
        return .success
    }
}

extension StateCopySummary {
    /// The summary of a copy found done already.
    static var done: StateCopySummary {
        var summary = StateCopySummary()
        summary.alreadyDone = true
        return summary
    }
}

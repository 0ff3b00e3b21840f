import Foundation
import Store
import Support
import Vault

/// `tokenkeeper state copy`: moves a whole state (a vault and the store it serves) to another vault and
/// store, on any backends, without opening a token for the copy (issue 15, point 5).
///
/// Steps, each safe to interrupt (a `kill -9` anywhere leaves a state the same copy, run again, finishes):
/// 1. Mark the destination `receiving` (store, then vault), naming this copy (the source store's identity),
///    so a partial destination is recognized and resumed, never taken for a foreign one.
/// 2. Mark the source `frozen` (store, then vault): from then on token use refuses to take a lease, and
///    nothing inserts, replaces or deletes rows, so nothing is redeemed from the source mid-copy.
/// 3. Wait until no source row holds a live lease (a refresh under way when the freeze came commits first).
/// 4. Copy every secret (every version, number kept, each key rewrapped under the destination's master key;
///    soft-deleted ones with their dates), the policies, then every row as sealed bytes, in key order, in
///    batches; a resumed copy writes them all again (each write replaces the row or secret of its name).
/// 5. Verify: secrets and policies equal, every row equal (ids and leases aside), per-tenant counts per key
///    version equal, and every token opens at the destination through a ``TokenCustodian`` (decrypted in
///    memory, discarded).
/// 6. Mark the source `moved` (store, then vault): nothing opens it again. Then clear the destination's
///    marks (vault, then store): it is ready.
///
/// The caller holds the job lock of both states for the whole copy (the runner's `JobLock`).
public final class StateCopier {
    /// The source vault, acting as a principal with every permission (it exports every key and sets marks).
    public let sourceVault: any KeyVault
    /// The store the source vault serves.
    public let sourceStore: any TokenStore
    /// The destination vault, made beforehand (`vault init`), empty or this copy's partial result.
    public let destinationVault: any KeyVault
    /// The destination store, new or empty or this copy's partial result; the copy binds the vault to it.
    public let destinationStore: any TokenStore
    /// How the destination's `receiving` mark names the source (``StateCopier/name(vault:store:)``).
    public let sourceName: String
    /// How the source's `frozen` and `moved` marks name the destination: locations, never secrets.
    public let destinationName: String
    /// Rows per read and per write transaction.
    public var batchSize = 500
    /// How long to wait for live leases at the source before giving up (the source stays frozen).
    public var leaseWait: TimeInterval = 120
    /// Called as the copy moves on.
    public var progress: (StateCopyStep) -> Void = { _ in }

    /// A copier over opened states. Nothing is written until ``run()``.
    public init(
        sourceVault: any KeyVault, sourceStore: any TokenStore, destinationVault: any KeyVault,
        destinationStore: any TokenStore
    ) {
        self.sourceVault = sourceVault
        self.sourceStore = sourceStore
        self.destinationVault = destinationVault
        self.destinationStore = destinationStore
        sourceName = Self.name(vault: sourceVault.location, store: sourceStore.location)
        destinationName = Self.name(vault: destinationVault.location, store: destinationStore.location)
    }

    /// How a mark names a state: its vault and store locations (paths or `postgres:env:NAME`).
    public static func name(vault: String, store: String) -> String {
        "vault \(vault) with store \(store)"
    }

    /// The copy's id: the source store's identity, which both sides' marks carry.
    var copyID: String { sourceStore.identity.id }

    /// Runs (or resumes) the copy and returns what was copied and verified.
    /// - throws: ``StateCopyError``, ``StateMarkError`` (the source is marked by another copy), and the
    ///   backends' errors; after any of them the same copy, run again, resumes.
    public func run() throws -> StateCopySummary {
        try checkSides()
        var summary = StateCopySummary()
        summary.resumed = try destinationStore.stateMark() != nil || sourceStore.stateMark() != nil
        try mark(destinationStore, .receiving, peer: sourceName)
        try mark(destinationVault, .receiving, peer: sourceName)
        try mark(sourceStore, .frozen, peer: destinationName)
        try mark(sourceVault, .frozen, peer: destinationName)
        try waitForLeases()
        try copySecrets(into: &summary)
        try copyRows()
        try destinationVault.bindStore(
            destinationStore.identity.id, heldTokens: try sourceStore.holdsTokens(), replacing: nil)
        try verify(into: &summary)
        try mark(sourceStore, .moved, peer: destinationName)
        try mark(sourceVault, .moved, peer: destinationName)
        try Self.clearReceiving(vault: destinationVault, store: destinationStore, from: sourceName)
        return summary
    }

    /// Finishes a copy whose source store is marked moved to this destination already (a rerun, or a
    /// run killed after that mark): marks the source vault moved too when it still opens (`sourceVault`
    /// non-nil), and clears the destination's `receiving` marks this copy left.
    public static func finishMoved(
        sourceVault: (any KeyVault)?, sourceName: String, destinationVault: any KeyVault,
        destinationStore: any TokenStore
    ) throws {
        let destinationName = name(vault: destinationVault.location, store: destinationStore.location)
        if let sourceVault, try sourceVault.stateMark()?.kind != .moved {
            let copyID = try sourceVault.stateMark()?.copyID ?? ""
            try sourceVault.setStateMark(StateMark(kind: .moved, peer: destinationName, copyID: copyID))
        }
        try clearReceiving(vault: destinationVault, store: destinationStore, from: sourceName)
    }

    /// Clears the destination's `receiving` marks that name `source` (vault first: the store's mark is what
    /// keeps token use out, so it goes last).
    static func clearReceiving(vault: any KeyVault, store: any TokenStore, from source: String) throws {
        if let mark = try vault.stateMark(), mark.kind == .receiving, mark.peer == source {
            try vault.setStateMark(nil)
        }
        if let mark = try store.stateMark(), mark.kind == .receiving, mark.peer == source {
            try store.setStateMark(nil)
        }
    }

    // MARK: - Steps

    /// Refuses a source marked by another copy, and a destination that is the source, holds anything, or
    /// carries another copy's mark.
    private func checkSides() throws {
        guard sourceStore.identity.id != destinationStore.identity.id else {
            throw StateCopyError.sameState(location: destinationStore.location)
        }
        guard sourceVault.location != destinationVault.location else {
            throw StateCopyError.sameState(location: destinationVault.location)
        }
        for (mark, location) in [
            (try sourceStore.stateMark(), sourceStore.location), (try sourceVault.stateMark(), sourceVault.location),
        ] {
            guard let mark else { continue }
            guard mark.kind == .frozen, mark.peer == destinationName, mark.copyID == copyID else {
                throw mark.refusal(at: location)
            }
        }
        try checkDestination(mark: destinationStore.stateMark(), location: destinationStore.location) {
            try destinationStore.count() > 0 ? "it holds \(try destinationStore.count()) token rows" : nil
        }
        try checkDestination(mark: destinationVault.stateMark(), location: destinationVault.location) {
            try destinationVault.holdsSecrets() ? "it holds secrets" : nil
        }
    }

    /// A destination side is ours (marked `receiving` by this copy) or empty and unmarked.
    private func checkDestination(mark: StateMark?, location: String, holding: () throws -> String?) throws {
        if let mark {
            guard mark.kind == .receiving, mark.copyID == copyID, mark.peer == sourceName else {
                throw StateCopyError.destinationInUse(
                    location: location, detail: "it is marked \(mark.kind.rawValue) (\(mark.peer))")
            }
            return
        }
        if let held = try holding() { throw StateCopyError.destinationInUse(location: location, detail: held) }
    }

    /// Sets a mark on a vault unless it carries that very mark.
    private func mark(_ vault: any KeyVault, _ kind: StateMark.Kind, peer: String) throws {
        guard try vault.stateMark().map({ $0.kind != kind || $0.peer != peer }) ?? true else { return }
        try vault.setStateMark(StateMark(kind: kind, peer: peer, copyID: copyID))
    }

    /// Sets a mark on a store unless it carries that very mark.
    private func mark(_ store: any TokenStore, _ kind: StateMark.Kind, peer: String) throws {
        guard try store.stateMark().map({ $0.kind != kind || $0.peer != peer }) ?? true else { return }
        try store.setStateMark(StateMark(kind: kind, peer: peer, copyID: copyID))
    }

    /// Waits (bounded by ``leaseWait``) until no source row holds a live lease.
    private func waitForLeases() throws {
        let start = Date()
        while true {
            let live = try sourceStore.liveLeaseCount(now: Date())
            guard live > 0 else { return }
            guard Date().timeIntervalSince(start) < leaseWait else {
                throw StateCopyError.leasesHeld(
                    location: sourceStore.location, rows: live, waitedSeconds: Int(leaseWait.rounded()))
            }
            progress(.waitingForLeases(rows: live))
            Thread.sleep(forTimeInterval: 0.2)
        }
    }

    /// Every secret (live and soft-deleted, every version) and every policy, the caller's own last (so
    /// the copy keeps the permissions it needs until the end).
    private func copySecrets(into summary: inout StateCopySummary) throws {
        let names = try sourceVault.secretNames()
        for (index, name) in names.enumerated() {
            let secret = try sourceVault.exportSecret(name)
            try destinationVault.importSecret(secret)
            summary.secrets += 1
            summary.versions += secret.versions.count
            if secret.deletion != nil { summary.deletedSecrets += 1 }
            progress(.secrets(done: index + 1, total: names.count))
        }
        let policies = try sourceVault.policies()
        let own = destinationVault.principal
        for policy in policies.filter({ $0.principal != own }) + policies.filter({ $0.principal == own }) {
            try destinationVault.setPolicy(for: policy.principal, permissions: policy.permissions)
        }
        summary.policies = policies.count
    }

    /// Every row, as sealed bytes, in key order and batches.
    private func copyRows() throws {
        let total = try sourceStore.count()
        var after: TokenKey?
        var done = 0
        while true {
            let rows = try sourceStore.copyRows(after: after, limit: batchSize)
            guard !rows.isEmpty else { return }
            try destinationStore.insertCopiedRows(rows)
            done += rows.count
            after = rows.last!.token.key
            progress(.rows(done: done, total: total))
        }
    }
}

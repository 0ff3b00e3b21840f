import Custody
import Foundation
import Spec
import Store
import Vault

/// What every stage works with: the open vault and store, whether this is a dry run, and where
/// progress goes. The runner opens these once per job while it holds the job lock (I7).
///
/// In a dry run the vault and store are opened read-only, so a stage that tried to write would be
/// refused by both; stages also check ``dryRun`` and only plan (I5).

package final class StageContext {
    /// The job's name (report class names).
    package let job: String
    /// The vault, read-only in a dry run.
    package let vault: any KeyVault
    /// The store, read-only in a dry run.
    package let store: any TokenStore
    /// Seals and opens tokens with the vault's keys.
    package let custodian: TokenCustodian
    /// Whether to plan only.
    package let dryRun: Bool
    /// Whether reports list every item or only failures (successes counted).
    package let detail: ReportSettings.Detail
    /// Where progress goes.
    package let progress: any StageProgress
    /// The environment secret references are resolved in.
    package let environment: [String: String]
    /// The clock, so tests can move time.
    package let clock: @Sendable () -> Date
    /// The run's id (lease owners name it).
    package let runID: String
    /// The part of the job's tenants this run covers (`run --shard K/N`); ``TenantShard/whole`` unsharded.
    /// Every stage plans only the tenants in it, and a refresh paces itself at its share of `max_rate`.
    package let shard: TenantShard

    /// Creates a context.
    package init(
        job: String, vault: any KeyVault, store: any TokenStore, dryRun: Bool, detail: ReportSettings.Detail,
        progress: any StageProgress, environment: [String: String], clock: @escaping @Sendable () -> Date,
        runID: String = "library", shard: TenantShard = .whole
    ) {
        self.runID = runID
        self.shard = shard
        self.job = job
        self.vault = vault
        self.store = store
        self.custodian = TokenCustodian(vault: vault, store: store)
        self.dryRun = dryRun
        self.detail = detail
        self.progress = progress
        self.environment = environment
        self.clock = clock
    }

    /// Who holds the leases this run takes: `job RUN`, and `shard K/N` when sharded, so a lease left
    /// behind names the shard that took it.
    package var leaseOwner: String {
        shard.isWhole ? "job \(runID)" : "job \(runID) shard \(shard)"
    }
}

import Foundation
import Store
import Support
import Vault

/// The migration of a store's rows from the old format (each token sealed directly under a tenant key)
/// to envelope encryption, as `tokenkeeper state migrate` runs it; the rotate stage does the same as the
/// first walk of its rewrap.
///
/// It needs the vault's keys, so it never runs when a store is opened. Each batch is one short
/// transaction with compare-and-set per row, so a crash leaves a half-migrated store that every command
/// reads (both formats), and a rerun finishes it. Rows move to their tenant's newest version.
package enum EnvelopeMigration {
    /// What a migration did.
    package struct Result: Equatable {
        /// Rows now in the envelope format.
        package var migrated = 0
        /// Rows left in the old format because they did not open (each reported to `onFailure`).
        package var failed = 0
        /// Tenants whose keys could not be read (each reported to `onFailure` with the tenant's error).
        package var failedTenants = 0
        /// How long the migration held the store (its write transactions and checkpoints).
        package var timings = TokenRewrapper.Timings()
    }

    /// Migrates every row still in the old format.
    /// - Parameter onFailure: called with the item (a row's key or a tenant) and the error.
    /// - throws: store errors (a batch that cannot be read or committed); committed batches stay.
    package static func run(
        custodian: TokenCustodian, batchSize: Int, now: Date = Date(), onFailure: (String, any Error) -> Void
    ) throws -> Result {
        var result = Result()
        let rewrapper = TokenRewrapper(custodian: custodian, batchSize: batchSize)
        for tenant in try custodian.store.oldFormatCounts().keys.sorted() {
            do {
                guard let newest = try custodian.vault.versions(of: tenant).filter(\.enabled).map(\.number).max()
                else { throw VaultError.secretNotFound(tenant) }
                // Only the versions the old rows use (and the newest): rows already in the envelope stay as they are.
                try rewrapper.prepare(
                    tenant: tenant, target: newest,
                    oldVersions: Array(try custodian.store.keyVersionCounts(tenant: tenant).keys))
            } catch {
                result.failedTenants += 1
                onFailure("tenant \(DisplayText.escaped(tenant))", error)
            }
        }
        guard rewrapper.hasTenants else { return result }
        let outcomes = try rewrapper.rewrapAll(
            migrateOnly: true, now: now, onBatch: { _ in },
            onFailure: { key, error in onFailure("token \(key)", error) })
        for outcome in outcomes.values {
            result.migrated += outcome.migrated
            result.failed += outcome.failed
        }
        try rewrapper.makeDurable()
        result.timings = rewrapper.timings
        return result
    }
}

import Foundation
import Store
import Support
import Vault

/// The check after the copy: the destination holds exactly what the source holds, and every token opens
/// there. Values are compared in memory and never named: an error names the secret, policy or row.
extension StateCopier {
    /// Compares secrets, policies, rows and per-version counts, and opens every token at the destination.
    /// - throws: ``StateCopyError/verificationFailed(item:detail:)`` at the first difference.
    func verify(into summary: inout StateCopySummary) throws {
        try verifySecrets()
        try verifyPolicies()
        try verifyRows(into: &summary)
        try verifyCounts(into: &summary)
    }

    private func verifySecrets() throws {
        let names = try sourceVault.secretNames()
        guard try destinationVault.secretNames() == names else {
            throw StateCopyError.verificationFailed(
                item: "vault \(destinationVault.location)", detail: "it does not hold the same secrets")
        }
        // Dates to the whole second: the precision every backend keeps.
        for name in names
        where try sourceVault.exportSecret(name).atWholeSeconds != destinationVault.exportSecret(name).atWholeSeconds {
            throw StateCopyError.verificationFailed(
                item: "secret \(name)", detail: "its versions, keys or soft-delete state differ")
        }
    }

    private func verifyPolicies() throws {
        let copied = Dictionary(
            uniqueKeysWithValues: try destinationVault.policies().map { ($0.principal, $0.permissions) })
        for policy in try sourceVault.policies() where copied[policy.principal] != policy.permissions {
            throw StateCopyError.verificationFailed(
                item: "policy of \(policy.principal)", detail: "its permissions differ")
        }
    }

    /// Walks both stores in key order, batch by batch: every row the same, every token opening at the
    /// destination (or, where its secret is soft-deleted or gone, at neither side).
    private func verifyRows(into summary: inout StateCopySummary) throws {
        let total = try sourceStore.count()
        let destination = TokenCustodian(vault: destinationVault, store: destinationStore)
        let source = TokenCustodian(vault: sourceVault, store: sourceStore)
        var after: TokenKey?
        var done = 0
        while true {
            let rows = try sourceStore.copyRows(after: after, limit: batchSize)
            let copies = try destinationStore.copyRows(after: after, limit: batchSize)
            guard rows.count == copies.count else {
                throw StateCopyError.verificationFailed(
                    item: "store \(destinationStore.location)", detail: "it does not hold the same rows")
            }
            guard !rows.isEmpty else { return }
            for (row, copy) in zip(rows, copies) {
                guard row.sameState(as: copy) else {
                    throw StateCopyError.verificationFailed(
                        item: "token \(row.token.key)", detail: "the row differs at the destination")
                }
                guard copy.token.sealedToken != nil else { continue }
                do {
                    _ = try destination.open(copy.token)
                    summary.tokensOpened += 1
                } catch {
                    // Copied as it was: fine only when it does not open at the source either.
                    guard (try? source.open(row.token)) == nil else {
                        throw StateCopyError.verificationFailed(
                            item: "token \(row.token.key)", detail: "it opens at the source but not at the destination")
                    }
                    summary.tokensNotOpenable += 1
                }
            }
            done += rows.count
            after = rows.last!.token.key
            progress(.verifying(done: done, total: total))
        }
    }

    /// The counts the stores keep: rows per tenant and token-holding rows per tenant and key version.
    private func verifyCounts(into summary: inout StateCopySummary) throws {
        guard try sourceStore.count() == destinationStore.count(),
            try sourceStore.tenants() == destinationStore.tenants()
        else {
            throw StateCopyError.verificationFailed(
                item: "store \(destinationStore.location)", detail: "its row counts differ")
        }
        summary.tenants = try sourceStore.tenants().map { tenant in
            let counts = try sourceStore.keyVersionCounts(tenant: tenant)
            guard try destinationStore.keyVersionCounts(tenant: tenant) == counts,
                try destinationStore.count(tenant: tenant) == sourceStore.count(tenant: tenant)
            else {
                throw StateCopyError.verificationFailed(
                    item: "tenant \(tenant)", detail: "its counts per key version differ")
            }
            return StateCopySummary.Tenant(
                tenant: tenant, rows: try sourceStore.count(tenant: tenant), tokensPerVersion: counts)
        }
    }
}

import Custody
import Foundation
import Report
import Runner
import Spec
import Store
import Support
import Vault

/// `tokenkeeper status`: the state of the vault and the store for a person at a terminal.

package enum StatusCommand {
    static let command = Command(
        "status",
        abstract:
            "Per tenant: key version and age, tokens per key version, tokens by status, and what the next job would do.",
        usage: "[--spec JOB.yml] [--format text|json]",
        discussion: """
            Reads the vault and the store read-only (nothing changes, not even the audit log) and prints one block per
            tenant: the key version in use and its age, how many rows each key version seals, tokens by status (active,
            needs_reauth, revoked) and the oldest refresh. With --spec, the vault, store and master key come from the job
            spec and each tenant also shows what the next run of that job would do (its dry run, without the lock wait).
            Needs the list permission. Works on state mounted read-only. Exit code 1 when a tenant's tokens are sealed
            with a secret the vault does not have (not_found: restore the secret, or revoke the tenant).
            """,
        options: [
            .value(
                "spec", "JOB.yml", "Take vault, store and master key from this job spec and show its plan per tenant."),
            .value("format", "FORMAT", "text (default) or json."),
        ]
    ) { invocation in
        let format = try invocation.choice("format", ["text", "json"], default: "text")
        var plans: [String: [String]] = [:]
        let vault: any KeyVault
        let store: any TokenStore
        if let specPath = invocation.value("spec") {
            let spec = try JobSpec.load(path: specPath)
            try SpecStateOptions.check(invocation, against: spec)
            var options = try JobCommands.runOptions(invocation)
            options.dryRun = true
            options.writesReports = false
            options.lockTimeout = 0
            do {
                let report = try await JobRunner(spec: spec, options: options).run()
                for stage in report.stages {
                    for item in stage.cases where !item.name.contains("/") {
                        plans[item.name, default: []].append("\(stage.name): \(item.message)")
                    }
                }
            } catch let error as any ActionableError where error is JobLockError || error is PostgresJobLockError {
                // A job is running now: show the state without its plan rather than wait for it.
                invocation.console.err("status: \(error.description)")
                invocation.console.err("status: showing the state without the next job's plan")
            }
            let masterKey =
                try options.masterKeyFile.map { try MasterKey(fileNamedBy: "--master-key-file", path: $0) }
                ?? spec.loadMasterKey(environment: options.environment)
            let state = try JobState.open(
                spec: spec, masterKey: masterKey, principal: try options.principal(for: spec),
                readOnly: true, environment: options.environment)
            vault = state.vault
            store = state.store
        } else {
            vault = try VaultAccess.openVault(invocation.globals, readOnly: true)
            store = try VaultAccess.openStore(invocation.globals, vault: vault, readOnly: true)
        }
        let statuses = try TenantStatus.all(vault: vault, store: store, plans: plans, now: Date())
        if format == "json" {
            invocation.console.out(try JSONText.encode(statuses))
        } else {
            for line in text(statuses, withPlans: invocation.value("spec") != nil) { invocation.console.out(line) }
        }
        let problems = statuses.compactMap { status in status.problem.map { "tenant \(status.tenant): \($0)" } }
        for problem in problems { invocation.console.err("status: error: \(problem)") }
        return problems.isEmpty ? .success : .itemsFailed
    }

    /// One block per tenant, for people.
    package static func text(_ statuses: [TenantStatus], withPlans: Bool) -> [String] {
        guard !statuses.isEmpty else { return ["no tenants: the vault has no secrets and the store no tokens"] }
        var lines: [String] = []
        for status in statuses {
            var key = status.problem == nil ? "secret \(status.secret)" : "secret MISSING"
            if let version = status.latestVersion, let age = status.keyAgeDays {
                key = "key version \(version), \(age) d old"
            }
            lines.append("\(status.tenant): \(key)")
            let rows = status.tokensByVersion.sorted { $0.key < $1.key }.map {
                "\($0.key) \(CountText.number($0.value))"
            }
            lines.append("  tokens per key version: \(rows.isEmpty ? "none" : rows.joined(separator: ", "))")
            let tokens = ["active", "needs_reauth", "revoked"].map {
                "\($0) \(CountText.number(status.tokensByStatus[$0] ?? 0))"
            }
            lines.append("  tokens: \(tokens.joined(separator: ", "))")
            lines.append("  oldest refresh: \(status.oldestRefresh.map(DateText.timestamp) ?? "none")")
            if withPlans {
                lines.append(
                    "  next job: \(status.nextJob.isEmpty ? "nothing" : status.nextJob.joined(separator: "; "))")
            }
        }
        return lines
    }
}

import Custody
import Foundation
import Spec
import Support

/// How one job is run: the choices of `tokenkeeper run` (and `plan`) beyond the spec.

package struct RunOptions: Sendable {
    /// Plan only: vault and store are opened read-only and stay byte-identical (I5).
    package var dryRun = false
    /// Run only the stage with this name (nil: every stage, in order).
    package var stage: String?
    /// Write reports into this folder instead of the spec's paths.
    package var reportDirectory: String?
    /// Whether to write reports at all (`plan` prints instead).
    package var writesReports = true
    /// How long to wait for another job's lock (I7).
    package var lockTimeout: TimeInterval = 30
    /// The principal, when the spec does not name one: `--principal`, `TOKENKEEPER_PRINCIPAL` or the
    /// process's OS account; nil when none of them gives a name (the run then needs the spec's).
    package var defaultPrincipal: String?
    /// A master key given on the command line (`--master-key-file`), overriding the spec's reference.
    package var masterKeyFile: String?
    /// The environment secret references are resolved in.
    package var environment: [String: String]
    /// The clock, so tests can run a job "a month later".
    package var clock: @Sendable () -> Date = { Date() }
    /// The part of the tenants this run covers (`--shard K/N`); ``TenantShard/whole`` by default. The N
    /// shards of one run share ``runID``: the job lock (I7) lets them hold the state together and
    /// nothing else meanwhile, which is why a sharded run needs both (``JobRunner/checkShard()``).
    package var shard: TenantShard = .whole
    /// The run's id (`--run-id`, which pipelines set from the CI run's id); nil: a new one per run.
    /// Reports, lease owners and the lock's owner name it.
    package var runID: String?

    /// The principal a run of `spec` acts as: the spec's, else ``defaultPrincipal``.
    /// - throws: ``PrincipalUnknownError`` when neither names one.
    package func principal(for spec: JobSpec) throws -> String {
        guard let principal = spec.principal ?? defaultPrincipal else { throw PrincipalUnknownError() }
        return principal
    }

    /// Options with the defaults of `tokenkeeper run`.
    package init(defaultPrincipal: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.defaultPrincipal = defaultPrincipal
        self.environment = environment
    }
}

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

import Custody
import Foundation
import Report
import Runner
import Spec
import Support

/// `tokenkeeper validate`, `plan` and `run`: the job spec commands a pipeline and its people use.

package enum JobCommands {
    /// The three top-level job commands.
    package static var all: [Command] { [validate, plan, run] }

    static let validate = Command(
        "validate", abstract: "Check a job spec without touching the vault or the store.", usage: "SPEC",
        discussion: """
            Parses the YAML-lite spec and checks every key, type, duration, rate, path and secret reference. Every
            problem is printed as `file:line:column: error: what is wrong; what to write instead`. Secrets are not
            resolved, so this runs anywhere (a pull request check, an editor). Exit code 0 when valid, 2 when not.
            """,
        positionals: 1...1
    ) { invocation in
        let spec = try JobSpec.load(path: invocation.positionals[0])
        var warnings: [String] = []
        for stage in spec.stages {
            if case .revoke(let options) = stage.options, let file = options.usersFile, !PrivateFiles.exists(file) {
                warnings.append(
                    "stage \(stage.name): users_file \(file) does not exist yet; the stage will fail until it does")
            }
            if case .rotate(let options) = stage.options, case .file(let file) = options.tenants,
                !PrivateFiles.exists(file)
            {
                warnings.append(
                    "stage \(stage.name): tenants file \(file) does not exist yet; the stage will fail until it does")
            }
        }
        for warning in warnings { invocation.console.err("warning: \(warning)") }
        let stages = spec.stages.map { "\($0.name) (\($0.kind.rawValue))" }.joined(separator: ", ")
        invocation.console.out(
            "\(invocation.positionals[0]): valid: job \(spec.name), \(CountText.of(spec.stages.count, "stage")): \(stages)"
        )
        return .success
    }

    static let runOptions: [OptionSpec] = [
        .value("stage", "NAME", "Run only this stage."),
        .value("lock-timeout", "DURATION", "How long to wait for another job's lock before giving up (default 30s)."),
        .value(
            "shard", "K/N",
            "Cover only the tenants in shard K of N (stable hash of the tenant id; README \"Shards\"). Each shard "
                + "refreshes at max_rate/N. Changing state needs PostgreSQL state and --run-id."),
        .value("run-id", "ID", "Name the run (the CI run's id); the N shards of one run share it."),
    ]

    static let plan = Command(
        "plan", abstract: "Show what a run would do, changing nothing (the dry run for people).",
        usage: "SPEC [--stage NAME] [--shard K/N]",
        discussion: """
            Opens the vault and the store read-only (both stay byte-identical) and prints, per stage, what a run would
            do: counts, then the first items. Needs the master key (the spec's master_key reference) to read the vault.
            Writes no report; use `tokenkeeper run --dry-run` for a dry run with reports. Works on state mounted read-only.
            The spec names the vault and the store: --vault or --store naming other paths is refused.
            With --shard K/N it shows only the tenants of that shard (a preview, allowed on any state, SQLite too).
            """,
        options: runOptions + [.value("items", "N", "How many items to show per stage (default 10).")],
        positionals: 1...1
    ) { invocation in
        let spec = try JobSpec.load(path: invocation.positionals[0])
        try SpecStateOptions.check(invocation, against: spec)
        var options = try runOptions(invocation)
        options.dryRun = true
        options.writesReports = false
        let limit = try invocation.integer("items", default: 10, in: 0...100_000)
        let runner = JobRunner(spec: spec, options: options)
        for warning in runner.warnings { invocation.console.err("tokenkeeper: warning: \(warning)") }
        let report = try await runner.run()
        for line in PlanText.lines(report, itemsPerStage: limit) { invocation.console.out(line) }
        return report.exitStatus
    }

    static let run = Command(
        "run", abstract: "Run a job spec: its stages in order, then the reports.",
        usage: "SPEC [--dry-run] [--stage NAME] [--report-dir DIR] [--lock-timeout 30s] [--shard K/N --run-id ID]",
        discussion: """
            Takes the job lock (one job per vault and store at a time: a lock file beside each file, and a session
            advisory lock on a PostgreSQL store's database, which needs a direct connection or session pooling),
            opens the vault and the store, runs the stages
            in order (a failed stage with on_failure: stop skips the rest), and writes the JUnit, Markdown and JSON
            reports the spec names. Running the same job again changes nothing that is already done.
            With --dry-run nothing is changed (vault and store stay byte-identical) and the reports say what a run
            would do. Progress is drawn on a terminal; in CI each stage prints one line.
            The spec names the vault and the store (--vault or --store naming other paths is refused); the store must
            be the one the vault serves: a missing, empty or different store stops the run before anything changes.
            Exit codes: 0 done or nothing to do, 1 some items failed (the report names them), 2 bad usage or an
            invalid spec, 3 environment (lock held, vault or store unreadable or not the vault's, wrong master key).
            Shards: --shard K/N --run-id ID runs the part of the job whose tenants hash into shard K (README
            "Shards"); N CI jobs with the same run id run the whole job. Stage rate limits stay the whole job's: each
            shard refreshes at max_rate/N. Reports get a -K-of-N suffix and the properties shard and shards;
            `tokenkeeper report show` reads the N files as one run. A sharded run that changes state needs PostgreSQL
            state (on the embedded SQLite store it is refused, exit code 2); --dry-run may preview a shard anywhere.
            """,
        options: runOptions + [
            .flag("dry-run", "Plan only: change nothing, write reports of what would happen."),
            .value("report-dir", "DIR", "Write the reports into DIR instead of the spec's report paths."),
        ],
        positionals: 1...1
    ) { invocation in
        let spec = try JobSpec.load(path: invocation.positionals[0])
        try SpecStateOptions.check(invocation, against: spec)
        var options = try runOptions(invocation)
        options.dryRun = invocation.flag("dry-run")
        options.reportDirectory = invocation.value("report-dir")
        let console = invocation.console
        let runner = JobRunner(spec: spec, options: options, progress: ProgressMeter(console: console))
        let stages = try runner.selectedStages()
        for warning in runner.warnings { console.err("tokenkeeper: warning: \(warning)") }
        console.err(
            "tokenkeeper: job \(spec.name)\(options.dryRun ? " (dry run)" : ""): \(CountText.of(stages.count, "stage"))"
                + (options.stage == nil ? "" : " of \(spec.stages.count)")
                + (options.shard.isWhole ? "" : ", shard \(options.shard.index) of \(options.shard.count)"))
        let report = try await runner.run()
        let failed = report.stages.reduce(0) { $0 + $1.tally.failed + $1.tally.errored }
        let files = ReportFiles.resolve(
            spec.report, job: spec.name, directory: options.reportDirectory, suffix: options.shard.fileSuffix
        ).all
        console.out(
            "run \(report.runID): \(failed == 0 ? "passed" : "\(CountText.of(failed, "failed case")) (see the report)")"
                + (files.isEmpty ? "" : "; reports: \(files.joined(separator: ", "))"))
        return report.exitStatus
    }

    /// The options `plan` and `run` share.
    static func runOptions(_ invocation: Invocation) throws -> RunOptions {
        var options = RunOptions(
            defaultPrincipal: invocation.globals.principalIfKnown, environment: invocation.globals.environment)
        options.stage = invocation.value("stage")
        options.masterKeyFile = invocation.globals.masterKeyFile
        if let text = invocation.value("lock-timeout") {
            guard let seconds = DurationText.seconds(text) else {
                throw UsageError(
                    command: invocation.path, problem: "--lock-timeout '\(text)' is not a duration",
                    remedy: "\(DurationText.hint).")
            }
            options.lockTimeout = seconds
        }
        if let text = invocation.value("shard") {
            guard let shard = TenantShard(parsing: text) else {
                throw UsageError(
                    command: invocation.path, problem: "--shard '\(DisplayText.escaped(text))' is not K/N",
                    remedy: "Write --shard K/N with whole numbers 1 <= K <= N <= \(TenantShard.maximumCount), "
                        + "for example --shard 2/4 for the second of four shards.")
            }
            options.shard = shard
        }
        options.runID = invocation.value("run-id")
        return options
    }
}

/// The text `tokenkeeper plan` prints: per stage the summary, then the first items that would change.
package enum PlanText {
    /// Lines for `report`, at most `itemsPerStage` items per stage.
    package static func lines(_ report: RunReport, itemsPerStage: Int) -> [String] {
        let shard = report.shard.map { ", shard \($0.index) of \($0.count): only its tenants" } ?? ""
        var lines = ["Plan for job \(report.job)\(shard) (dry run, nothing changed):"]
        for stage in report.stages {
            lines.append("")
            lines.append("stage \(stage.name) (\(stage.kind)): \(stage.summary)")
            let changes = stage.cases.filter { $0.status != .passed || $0.message.hasPrefix("would") }
            for item in changes.prefix(itemsPerStage) {
                let marker =
                    switch item.status {
                    case .passed: "  - "
                    case .skipped: "  ~ "
                    case .failed, .errored: "  ! "
                    }
                lines.append(marker + item.name + ": " + item.message)
            }
            if changes.count > itemsPerStage {
                lines.append("  … and \(CountText.number(changes.count - itemsPerStage)) more")
            }
            if changes.isEmpty { lines.append("  nothing to do") }
        }
        return lines
    }
}

import Crypto
import Custody
import Foundation
import Report
import Spec
import Stages
import Store
import Support
import Vault

#if canImport(Glibc)

    import Glibc
#endif

/// Runs one job: takes the exclusive lock (I7), opens the vault and the store (read-only in a dry
/// run, I5), runs the stages in order with `on_failure`, and writes the reports.
///
/// Errors that stop the job before any stage runs (lock held, master key missing or wrong, vault or
/// store unreadable) are thrown and end the process with exit code 3; everything that happens inside
/// a stage is reported per item, and the run's exit code is 1 when an item failed.

package struct JobRunner {
    /// The checked job spec.
    package let spec: JobSpec
    /// How to run it.
    package let options: RunOptions
    /// Where progress goes.
    package let progress: any StageProgress

    /// Creates a runner.
    package init(spec: JobSpec, options: RunOptions, progress: any StageProgress = SilentProgress()) {
        self.spec = spec
        self.options = options
        self.progress = progress
    }

    /// The stages this run covers: all, or the one `--stage` names.
    /// - throws: ``RunnerError/unknownStage(name:stages:)`` for a stage name the spec does not have.
    package func selectedStages() throws -> [StageSpec] {
        guard let name = options.stage else { return spec.stages }
        let matches = spec.stages.filter { $0.name == name }
        guard matches.isEmpty else { return matches }
        throw RunnerError.unknownStage(name: name, stages: spec.stages.map(\.name))
    }

    /// Runs the job and returns its report (already written to the report files unless told not to).
    /// - throws: environment errors that stop the job before any stage runs, and report write errors.
    package func run() async throws -> RunReport {
        let stages = try selectedStages()
        try checkShard()
        let startedAt = options.clock()
        let runID = options.runID ?? Self.makeRunID(at: startedAt)
        let principal = try options.principal(for: spec)
        let masterKey = try loadMasterKey()
        let lock = try JobLockHold.acquire(spec: spec, options: options, runID: runID)
        defer { lock.release() }
        let state = try JobState.open(
            spec: spec, masterKey: masterKey, principal: principal, readOnly: options.dryRun,
            environment: options.environment, clock: options.clock)
        // A state `state copy` left frozen (a copy stopped before it finished) or receiving: no job runs on it
        // until the copy is run again and finishes (a dry run only reads, and may).
        if !options.dryRun {
            if let mark = try state.store.stateMark() { throw mark.refusal(at: state.store.location) }
            if let mark = try state.vault.stateMark() { throw mark.refusal(at: state.vault.location) }
        }
        let context = StageContext(
            job: spec.name, vault: state.vault, store: state.store, dryRun: options.dryRun, detail: spec.report.detail,
            progress: progress, environment: options.environment, clock: options.clock, runID: runID,
            shard: options.shard)
        var reports: [StageReport] = []
        var stoppedBy: String?
        for stage in stages {
            if let stoppedBy {
                reports.append(
                    StageReport(
                        name: stage.name, kind: stage.kind.rawValue, startedAt: options.clock(), duration: 0,
                        result: .notRun,
                        summary: "not run: stage \(stoppedBy) failed and its on_failure is stop"))
                progress.end(stage: stage.name, summary: reports.last!.summary)
                continue
            }
            var report = await run(stage, context: context)
            report.log.insert(contentsOf: warnings.map { "warning: " + $0 }, at: 0)
            progress.end(stage: stage.name, summary: report.summary)
            reports.append(report)
            if report.result == .failed, stage.onFailure == .stop { stoppedBy = stage.name }
        }
        let report = RunReport(
            job: spec.name, runID: runID, specPath: spec.sourcePath, specSHA256: SHA256.hexDigest(spec.sourceBytes),
            dryRun: options.dryRun, toolVersion: ToolVersion.current, principal: principal,
            hostname: Self.hostname(), startedAt: startedAt,
            duration: options.clock().timeIntervalSince(startedAt), stages: reports,
            shard: options.shard.isWhole ? nil : RunReport.Shard(index: options.shard.index, count: options.shard.count)
        )
        if options.writesReports {
            try ReportFiles.resolve(
                spec.report, job: spec.name, directory: options.reportDirectory, suffix: options.shard.fileSuffix
            ).write(report)
        }
        return report
    }

    /// Refuses what a sharded run cannot do, before anything is opened: a `--run-id` that is not a plain
    /// name; on the embedded SQLite store, `--shard K/N` with N > 1 for a run that changes state (the N
    /// shards of one run must hold the state together, which needs PostgreSQL state and its advisory
    /// job lock); with the vault in a folder (a folder is on one host, and its file lock cannot be shared
    /// by shards on several hosts, so the shards' vault is on PostgreSQL too); and a sharded run without
    /// `--run-id`, whose shards could not know each other. Plans and dry runs only read, so they may
    /// preview a shard anywhere.
    /// - throws: ``RunnerError`` (exit code 2).
    package func checkShard() throws {
        if let refusal = Self.shardRefusal(
            options, embeddedStore: Self.storeIsEmbedded(spec), folderVault: Self.vaultIsFolder(spec))
        {
            throw refusal
        }
    }

    /// Why a run with `options` may not start (nil: it may), given whether its store is the embedded one
    /// and whether its vault is a folder.
    static func shardRefusal(_ options: RunOptions, embeddedStore: Bool, folderVault: Bool = false) -> RunnerError? {
        if let runID = options.runID, !isValidRunID(runID) { return .invalidRunID }
        guard !options.shard.isWhole, !options.dryRun else { return nil }
        if embeddedStore { return .shardNeedsServerState(shard: options.shard.description) }
        if folderVault { return .shardNeedsServerVault(shard: options.shard.description) }
        if options.runID == nil { return .shardNeedsRunID(shard: options.shard.description) }
        return nil
    }

    /// Whether the spec keeps its tokens in the embedded SQLite store, which one host's file lock guards.
    static func storeIsEmbedded(_ spec: JobSpec) -> Bool {
        if case .sqlite = spec.store { return true }
        return false
    }

    /// Whether the spec keeps its vault in a folder, which one host's file lock guards.
    static func vaultIsFolder(_ spec: JobSpec) -> Bool {
        if case .folder = spec.vault { return true }
        return false
    }

    /// Whether `runID` may name a run: 1 to 100 of `A-Z a-z 0-9 . _ -`, starting with a letter or
    /// digit (CI run ids such as Azure's `Build.BuildId` `20451`, GitHub's `7012345678-1`).
    static func isValidRunID(_ runID: String) -> Bool {
        guard let first = runID.unicodeScalars.first, runID.unicodeScalars.count <= 100 else { return false }
        func plain(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII && (CharacterSet.alphanumerics.contains(scalar) || "._-".unicodeScalars.contains(scalar))
        }
        return first != "." && first != "_" && first != "-" && runID.unicodeScalars.allSatisfy(plain)
    }

    /// What every run of this spec warns about, on the console and in every stage's log (`system-out`): a
    /// backend whose spec accepts a server without verified TLS (`tls: unverified`).
    package var warnings: [String] {
        var found: [String] = []
        if case .postgres(_, let tls) = spec.vault, let warning = tls.warning(for: "vault " + spec.vault.description) {
            found.append(warning)
        }
        if case .postgres(_, let tls) = spec.store, let warning = tls.warning(for: "store " + spec.store.description) {
            found.append(warning)
        }
        return found
    }

    /// Runs one stage.
    private func run(_ stage: StageSpec, context: StageContext) async -> StageReport {
        switch stage.options {
        case .rotate(let options): RotateStage(name: stage.name, options: options).run(context)
        case .revoke(let options):
            await RevokeStage(name: stage.name, options: options, providers: spec.providers).run(context)
        case .refresh(let options):
            await RefreshStage(name: stage.name, options: options, provider: spec.providers[options.provider]!).run(
                context)
        }
    }

    /// The master key: `--master-key-file` when given, else the spec's reference.
    private func loadMasterKey() throws -> MasterKey {
        if let file = options.masterKeyFile { return try MasterKey(fileNamedBy: "--master-key-file", path: file) }
        return try spec.loadMasterKey(environment: options.environment)
    }

    /// The machine's name from gethostname(2) (no DNS lookup), or `localhost`.
    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "localhost" : name
    }

    /// `20261124T030000Z-1a2b3c`: sortable by time, unique by six random hex digits.
    static func makeRunID(at date: Date) -> String {
        let stamp = DateText.timestamp(date).replacingOccurrences(of: "-", with: "").replacingOccurrences(
            of: ":", with: "")
        let random = (try? SecureRandom.bytes(3)).map(Hex.encode) ?? String(UInt32.random(in: 0...0xFFFFFF), radix: 16)
        return "\(stamp)-\(random)"
    }
}

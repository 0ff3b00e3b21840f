import Foundation
import TokenKeeper

/// `tokenkeeper-bench --postgres-rotate SPEC`: the rotate stage of SPEC run on the PostgreSQL store that
/// `TOKENKEEPER_STORE_URL` names, with SPEC's vault, the way `tokenkeeper run` runs it (the runner's
/// stage, context and report files), in a process of its own so the benchmark measures its own peak
/// memory. The spec's `store:` line is not used: the command line cannot name a PostgreSQL store yet.
///
/// Stand-in for `tokenkeeper run SPEC` with `store: postgres: env:TOKENKEEPER_STORE_URL`: once the spec
/// reader takes that form, ``PostgresRotationBenchmark/rotationCommand(spec:)`` runs `tokenkeeper run`
/// instead, and this file goes. Unlike the runner it takes no job lock (the benchmark runs alone).
enum PostgresRotateChild {
    /// The environment variable with the store's connection string (a secret: never printed).
    static let storeVariable = "TOKENKEEPER_STORE_URL"

    /// Opens the vault and the store, checks the vault serves that store, runs the spec's first stage
    /// (a rotate stage) and writes the spec's reports. Exits 1 when the stage failed.
    static func run(spec path: String) throws {
        let spec = try JobSpec.load(path: path)
        let environment = ProcessInfo.processInfo.environment
        guard let connectionString = environment[storeVariable], !connectionString.isEmpty else {
            throw BenchError("--postgres-rotate needs the store's connection string in \(storeVariable)")
        }
        guard let stage = spec.stages.first, case .rotate(let options) = stage.options else {
            throw BenchError("\(path): the first stage must be a rotate stage")
        }
        let startedAt = Date()
        let runID = "bench-" + UUID().uuidString.prefix(8).lowercased()
        let principal = try RunOptions(defaultPrincipal: "bench").principal(for: spec)
        let vault = try FileVault.open(
            at: spec.vaultPath, masterKey: try spec.loadMasterKey(environment: environment), principal: principal)
        let store = try PostgresTokenStore(
            connectionString: connectionString, location: "postgres:env:\(storeVariable)")
        guard try vault.storeBinding()?.storeID == store.identity.id else {
            throw BenchError("the vault \(spec.vaultPath) does not serve the store in \(storeVariable)")
        }
        let context = StageContext(
            job: spec.name, vault: vault, store: store, dryRun: false, detail: spec.report.detail,
            progress: SilentProgress(), environment: environment, clock: { Date() }, runID: runID)
        let stageReport = RotateStage(name: stage.name, options: options).run(context)
        let report = RunReport(
            job: spec.name, runID: runID, specPath: spec.sourcePath, specSHA256: SHA256.hexDigest(spec.sourceBytes),
            dryRun: false, toolVersion: ToolVersion.current, principal: principal, hostname: "localhost",
            startedAt: startedAt, duration: Date().timeIntervalSince(startedAt), stages: [stageReport])
        try ReportFiles.resolve(spec.report, job: spec.name, directory: nil).write(report)
        print(stageReport.summary)
        if stageReport.result == .failed { exit(1) }
    }
}

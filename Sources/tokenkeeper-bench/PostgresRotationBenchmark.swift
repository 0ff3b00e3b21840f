import Foundation
import TokenKeeper

/// `--backend postgres`: the rotation benchmark on PostgreSQL (issue 15): a local server with its default
/// (durable) settings, N synthetic tokens seeded through the library's `insertBatch`, tokenkeeper's rotate
/// stage on them and, side by side, the Python baseline ../shared/bench/python_rewrap_pg.py on its own
/// database of N rows; rates, the ratio (target at least 4x), tokenkeeper's peak memory (target under
/// 64 MiB) and a no-op run's time (target under 0.2 s). The server is stopped and removed at the end.
///
/// The rotation runs in a child process (``rotationCommand(spec:)``) so its peak memory is its own.

struct PostgresRotationBenchmark {
    let options: BenchOptions

    /// One size's figures.
    struct Figures: Codable {
        var tokens: Int
        var serverSettings: [String: String]
        var seedSeconds: Double
        var seedInsertSeconds: Double
        var seedInsertTokensPerSecond: Double
        var rotateProcessSeconds: Double
        var rotateStageSeconds: Double
        var rotateTokensPerSecond: Double
        var rotatePeakRSSMiB: Double
        /// The rotate stage's notes on its phases (add versions, fetch keys, rewrap, retire versions), and the no-op's.
        var rotatePhases: [String] = []
        var noopPhases: [String] = []
        var noopSeconds: Double
        var noopPeakRSSMiB: Double
        var pythonSeedSeconds: Double?
        var pythonRewrapRowsPerSecond: Double?
        var pythonPeakRSSMiB: Double?
        var ratio: Double?
    }

    /// The targets of issue 15.
    static let targetRatio = 4.0, targetPeakRSSMiB = 64.0, targetNoopSeconds = 0.2

    func run() throws {
        var all: [Figures] = []
        print(
            "tokenkeeper rotation benchmark on PostgreSQL: \(options.tenants ?? 100) tenants, \(options.tokenBytes)-byte "
                + "tokens, \(ProcessInfo.processInfo.activeProcessorCount) cores")
        for size in options.sizes {
            let figures = try measure(size)
            all.append(figures)
            print(Self.describe(figures))
        }
        try BenchOutput.printJSON(all)
    }

    /// The environment variable with the store's connection string (a secret: never printed), which the
    /// spec names as `store: postgres: env:TOKENKEEPER_STORE_URL`.
    static let storeVariable = "TOKENKEEPER_STORE_URL"

    /// The process that runs the rotation of `spec`: `tokenkeeper run`, as a pipeline runs it.
    func rotationCommand(spec: String) -> [String] {
        [options.tokenkeeper, "run", spec]
    }

    static func describe(_ f: Figures) -> String {
        func verdict(_ holds: Bool) -> String { holds ? "target holds" : "target missed" }
        var lines = [
            "",
            "N = \(f.tokens)  (seeded in \(String(format: "%.1f", f.seedSeconds)) s; insertBatch "
                + String(format: "%.0f tokens/s over %.2f s)", f.seedInsertTokensPerSecond, f.seedInsertSeconds),
            "  server settings (defaults): "
                + PostgresBenchServer.reportedSettings.compactMap { name in
                    f.serverSettings[name].map { "\(name)=\($0)" }
                }.joined(separator: ", "),
            String(
                format: "  tokenkeeper rotate: %10.0f tokens/s  (stage %.2f s, process %.2f s)",
                f.rotateTokensPerSecond, f.rotateStageSeconds, f.rotateProcessSeconds),
            String(
                format: "  tokenkeeper peak RSS: %.1f MiB (target < %.0f MiB: %@)", f.rotatePeakRSSMiB,
                targetPeakRSSMiB, verdict(f.rotatePeakRSSMiB < targetPeakRSSMiB)),
            "  rotate phases: " + f.rotatePhases.joined(separator: "; "),
            String(
                format: "  tokenkeeper no-op: %.3f s (target < %.1f s: %@), peak RSS %.1f MiB", f.noopSeconds,
                targetNoopSeconds, verdict(f.noopSeconds < targetNoopSeconds), f.noopPeakRSSMiB),
            "  no-op phases: " + f.noopPhases.joined(separator: "; "),
        ]
        if let python = f.pythonRewrapRowsPerSecond, let ratio = f.ratio {
            lines.append(
                String(
                    format: "  python baseline (psycopg 3): %10.0f rows/s, peak RSS %.1f MiB (seeded in %.1f s)",
                    python, f.pythonPeakRSSMiB ?? 0, f.pythonSeedSeconds ?? 0))
            lines.append(
                String(
                    format: "  ratio tokenkeeper / python: %.2fx (target >= %.0fx: %@)", ratio, targetRatio,
                    verdict(ratio >= targetRatio)))
        }
        return lines.joined(separator: "\n")
    }

    private func measure(_ size: Int) throws -> Figures {
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-pg-bench-\(size)-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let server = try PostgresBenchServer()
        defer { server.stop() }
        let settings = Dictionary(uniqueKeysWithValues: try server.settings().map { ($0.name, $0.value) })
        try server.createDatabase("tokenkeeper")
        let storeURL = server.connectionString(database: "tokenkeeper")

        // Seed through the library (the store's insertBatch), then settle the table as the baseline does.
        let masterKey = try MasterKey.generate()
        let seedStarted = Date()
        let past = Date().addingTimeInterval(-40 * 86_400)
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let store = try PostgresTokenStore.create(
            connectionString: storeURL, location: "postgres:env:\(Self.storeVariable)")
        try vault.bindStore(store.identity.id, heldTokens: true, replacing: nil)
        let inserting = try RotationBenchmark.insertSynthetic(
            size, custodian: TokenCustodian(vault: vault, store: store),
            tenants: RotationBenchmark.newTenants(options.tenants ?? 100), tokenBytes: options.tokenBytes, at: past)
        let seedSeconds = Date().timeIntervalSince(seedStarted)
        try server.admin("tokenkeeper").execute("VACUUM ANALYZE", purpose: "vacuum the seeded store")
        try server.checkpoint()

        let spec = try writeSpec(in: folder)
        let environment = [
            "TOKENKEEPER_MASTER_KEY": masterKey.base64, Self.storeVariable: storeURL, "CI": "true",
        ]
        let rotate = try MeasuredProcess.run(rotationCommand(spec: spec), environment: environment)
        guard rotate.status == 0 else { throw BenchError("the rotation run exited \(rotate.status)") }
        let stage = try readStage(folder)
        let rewrapped = stage.counts.first { $0.name == "tokens_rewrapped" }?.value ?? 0
        guard rewrapped == size else {
            throw BenchError("the rotation rewrapped \(rewrapped) of \(size) tokens: \(stage.summary)")
        }
        let noop = try MeasuredProcess.run(rotationCommand(spec: spec), environment: environment)
        let noopStage = try readStage(folder)
        guard noop.status == 0, noopStage.counts.first(where: { $0.name == "tokens_rewrapped" }) == nil
        else { throw BenchError("the second run was not a no-op") }
        try RotationBenchmark.verifySample(TokenCustodian(vault: vault, store: store))
        var figures = Figures(
            tokens: size, serverSettings: settings, seedSeconds: seedSeconds, seedInsertSeconds: inserting,
            seedInsertTokensPerSecond: Double(size) / inserting, rotateProcessSeconds: rotate.seconds,
            rotateStageSeconds: stage.duration, rotateTokensPerSecond: Double(size) / stage.duration,
            rotatePeakRSSMiB: rotate.peakRSSMiB, noopSeconds: noop.seconds, noopPeakRSSMiB: noop.peakRSSMiB)
        figures.rotatePhases = Self.phases(of: stage)
        figures.noopPhases = Self.phases(of: noopStage) + [String(format: "stage %.3f s", noopStage.duration)]
        if !options.skipBaseline {
            // The baseline gets the server to itself: tokenkeeper's database goes first.
            try server.admin().execute(
                "DROP DATABASE tokenkeeper WITH (FORCE)", purpose: "drop tokenkeeper's database")
            try server.createDatabase("python")
            let dsn = server.connectionString(database: "python")
            let seeded = try MeasuredProcess.run([
                options.python, options.postgresBaseline, "--dsn", dsn, "--mode", "seed-only", "--rows", String(size),
                "--json",
            ])
            guard seeded.status == 0 else {
                throw BenchError(
                    "the PostgreSQL baseline could not seed (exit \(seeded.status)); are `psycopg[binary]` and "
                        + "`cryptography` installed for \(options.python)? (scripts/setup installs Tests/requirements.txt)"
                )
            }
            try server.checkpoint()
            let python = try RotationBenchmark.rewrap(
                [
                    options.python, options.postgresBaseline, "--dsn", dsn, "--mode", "rewrap-only", "--rows",
                    String(size), "--json",
                ], name: "the PostgreSQL baseline")
            figures.pythonSeedSeconds = seeded.seconds
            figures.pythonRewrapRowsPerSecond = python.rate
            figures.pythonPeakRSSMiB = python.peakRSSMiB
            figures.ratio = figures.rotateTokensPerSecond / python.rate
        }
        return figures
    }

    /// The rotate job (tenants due after 30 days, one version kept), as the SQLite benchmark's. Its
    private func writeSpec(in folder: String) throws -> String {
        let spec = folder + "/rotate.yml"
        try Data(
            """
            version: 1
            name: bench
            principal: bench
            vault:
              path: ./vault
              master_key: env:TOKENKEEPER_MASTER_KEY
            store:
              postgres: env:TOKENKEEPER_STORE_URL
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
                keep_versions: 1
            report:
              json: ./reports/bench.json
            """.utf8
        ).write(to: URL(fileURLWithPath: spec))
        return spec
    }

    /// The stage's notes on where its time went (phases, the store's write transactions).
    static func phases(of stage: StageReport) -> [String] {
        stage.log.filter { $0.hasPrefix("phase ") || $0.hasPrefix("store held") }
    }

    /// The rotate stage of the last run's JSON report.
    private func readStage(_ folder: String) throws -> StageReport {
        let report = try JSONReportWriter.read(Data(contentsOf: URL(fileURLWithPath: folder + "/reports/bench.json")))
        guard let stage = report.stages.first else { throw BenchError("the run's report has no stage") }
        return stage
    }
}

import Foundation
import TokenKeeper

/// Seeds a store, times a full rotation and a no-op run of the real `tokenkeeper run`, and runs the
/// Python baseline on the same number of rows.

struct RotationBenchmark {
    let options: BenchOptions

    /// One size's figures.
    struct Figures: Codable {
        var tokens: Int
        var seedSeconds: Double
        var rotateProcessSeconds: Double
        var rotateStageSeconds: Double
        var rotateTokensPerSecond: Double
        var rotatePeakRSSMiB: Double
        /// The rotation's write transactions, and the longest of them and of its checkpoints (milliseconds):
        /// how long token use may have waited for the store (issue 14 point 3).
        var rotateWriteTransactions: Int
        var rotateLongestWriteMilliseconds: Double
        var rotateLongestCheckpointMilliseconds: Double
        var noopSeconds: Double
        var noopPeakRSSMiB: Double
        var pythonRewrapRowsPerSecond: Double?
        var pythonPeakRSSMiB: Double?
        var ratio: Double?
        var cRewrapRowsPerSecond: Double?
        var cPeakRSSMiB: Double?
        var ratioToC: Double?
        /// The plain C rewrap of the envelope layout (scripts/reference/c_envelope_rewrap.c): 48-byte sealed data keys.
        var cEnvelopeRewrapRowsPerSecond: Double?
        var cEnvelopePeakRSSMiB: Double?
        var ratioToCEnvelope: Double?
    }

    func run() async throws {
        if let cases = options.reportCases {
            try ReportBenchmark(cases: cases, options: options).run()
            return
        }
        if let responses = options.importResponses {
            try ImportBenchmark(responses: responses, options: options).run()
            return
        }
        if let tokens = options.refreshTokens {
            try await RefreshBenchmark(tokens: tokens, options: options).run()
            return
        }
        if let spec = options.runSpec {
            var runOptions = RunOptions(defaultPrincipal: "bench")
            runOptions.writesReports = false
            let started = Date()
            let report = try await JobRunner(spec: try JobSpec.load(path: spec), options: runOptions).run()
            print(
                "in-process run: \(report.stages.map(\.summary).joined(separator: "; ")) in \(Date().timeIntervalSince(started)) s"
            )
            return
        }
        var all: [Figures] = []
        print(
            "tokenkeeper rotation benchmark: \(options.tenants ?? 100) tenants, \(options.tokenBytes)-byte tokens, "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        for size in options.sizes {
            let figures = try measure(size)
            all.append(figures)
            print(Self.describe(figures))
        }
        try BenchOutput.printJSON(all)
    }

    static func describe(_ f: Figures) -> String {
        var lines = [
            "", "N = \(f.tokens)  (seeded in \(String(format: "%.1f", f.seedSeconds)) s)",
            String(
                format: "  tokenkeeper rotate: %10.0f tokens/s  (stage %.2f s, process %.2f s), peak RSS %.1f MiB",
                f.rotateTokensPerSecond, f.rotateStageSeconds, f.rotateProcessSeconds, f.rotatePeakRSSMiB),
            String(
                format: "  store held:         %d write transactions, longest %.1f ms; longest checkpoint %.1f ms",
                f.rotateWriteTransactions, f.rotateLongestWriteMilliseconds, f.rotateLongestCheckpointMilliseconds),
            String(format: "  tokenkeeper no-op:  %.3f s, peak RSS %.1f MiB", f.noopSeconds, f.noopPeakRSSMiB),
        ]
        if let python = f.pythonRewrapRowsPerSecond, let ratio = f.ratio {
            lines.append(
                String(
                    format: "  python baseline:    %10.0f rows/s, peak RSS %.1f MiB", python, f.pythonPeakRSSMiB ?? 0))
            lines.append(String(format: "  ratio tokenkeeper / python: %.2fx", ratio))
        }
        if let c = f.cRewrapRowsPerSecond, let ratio = f.ratioToC {
            lines.append(
                String(format: "  plain C reference:  %10.0f rows/s, peak RSS %.1f MiB", c, f.cPeakRSSMiB ?? 0))
            lines.append(String(format: "  ratio tokenkeeper / C: %.2fx", ratio))
        }
        if let c = f.cEnvelopeRewrapRowsPerSecond, let ratio = f.ratioToCEnvelope {
            lines.append(
                String(
                    format: "  plain C envelope:   %10.0f rows/s (48-byte sealed data keys), peak RSS %.1f MiB", c,
                    f.cEnvelopePeakRSSMiB ?? 0))
            lines.append(String(format: "  ratio tokenkeeper / C envelope: %.2fx", ratio))
        }
        return lines.joined(separator: "\n")
    }

    private func measure(_ size: Int) throws -> Figures {
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-bench-\(size)-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let masterKey = try MasterKey.generate()
        let seedSeconds = try seed(size, in: folder, masterKey: masterKey)
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
              sqlite: ./tokens.db
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
        let environment = ["TOKENKEEPER_MASTER_KEY": masterKey.base64, "CI": "true"]
        if options.seedOnly {
            print(
                "seeded \(size) tokens in \(folder); run: TOKENKEEPER_MASTER_KEY=\(masterKey.base64) tokenkeeper run \(spec)"
            )
            throw BenchUsage("stopped after seeding (--seed-only)", isHelp: true)
        }
        let rotate = try MeasuredProcess.run([options.tokenkeeper, "run", spec], environment: environment)
        guard rotate.status == 0 else { throw BenchError("the rotation run exited \(rotate.status)") }
        let report = try JSONReportWriter.read(Data(contentsOf: URL(fileURLWithPath: folder + "/reports/bench.json")))
        let stage = report.stages[0]
        let rewrapped = stage.counts.first { $0.name == "tokens_rewrapped" }?.value ?? 0
        guard rewrapped == size else { throw BenchError("the rotation rewrapped \(rewrapped) of \(size) tokens") }
        let noop = try MeasuredProcess.run([options.tokenkeeper, "run", spec], environment: environment)
        let noopReport = try JSONReportWriter.read(
            Data(contentsOf: URL(fileURLWithPath: folder + "/reports/bench.json")))
        guard noop.status == 0, noopReport.stages[0].counts.first(where: { $0.name == "tokens_rewrapped" }) == nil
        else {
            throw BenchError("the second run was not a no-op")
        }
        try verifySample(folder: folder, masterKey: masterKey)
        var figures = Figures(
            tokens: size, seedSeconds: seedSeconds, rotateProcessSeconds: rotate.seconds,
            rotateStageSeconds: stage.duration, rotateTokensPerSecond: Double(size) / stage.duration,
            rotatePeakRSSMiB: rotate.peakRSSMiB, rotateWriteTransactions: stage.count(.writeTransactions),
            rotateLongestWriteMilliseconds: Double(stage.count(.longestWriteMicroseconds)) / 1000,
            rotateLongestCheckpointMilliseconds: Double(stage.count(.longestCheckpointMicroseconds)) / 1000,
            noopSeconds: noop.seconds, noopPeakRSSMiB: noop.peakRSSMiB)
        if !options.skipBaseline {
            try? FileManager.default.removeItem(atPath: folder + "/tokens.db")
            let table = folder + "/python.db"
            let seeded = try MeasuredProcess.run([
                options.python, options.baseline, "--mode", "seed-only", "--rows", String(size), "--db", table,
            ])
            guard seeded.status == 0 else {
                throw BenchError(
                    "the Python baseline could not seed (exit \(seeded.status)); is `cryptography` installed for \(options.python)?"
                )
            }
            if options.cReference != nil { try FileManager.default.copyItem(atPath: table, toPath: folder + "/c.db") }
            let python = try Self.rewrap(
                [options.python, options.baseline, "--mode", "rewrap-only", "--db", table, "--json"],
                name: "the Python baseline")
            figures.pythonRewrapRowsPerSecond = python.rate
            figures.pythonPeakRSSMiB = python.peakRSSMiB
            figures.ratio = figures.rotateTokensPerSecond / python.rate
            try? FileManager.default.removeItem(atPath: table)
            if let reference = options.cReference {
                let c = try Self.rewrap([reference, folder + "/c.db"], name: "the C reference")
                figures.cRewrapRowsPerSecond = c.rate
                figures.cPeakRSSMiB = c.peakRSSMiB
                figures.ratioToC = figures.rotateTokensPerSecond / c.rate
            }
            if let reference = options.cEnvelopeReference {
                let c = try Self.rewrap(
                    [reference, folder + "/c_envelope.db", String(size)], name: "the C envelope reference")
                figures.cEnvelopeRewrapRowsPerSecond = c.rate
                figures.cEnvelopePeakRSSMiB = c.peakRSSMiB
                figures.ratioToCEnvelope = figures.rotateTokensPerSecond / c.rate
            }
        }
        return figures
    }

    /// Runs a baseline's rewrap and reads its rate from the JSON line it prints last (`rewrap_rows_per_s`,
    /// or `rows_per_s` as python_rewrap_pg.py names it).
    static func rewrap(_ arguments: [String], name: String) throws -> (rate: Double, peakRSSMiB: Double) {
        let run = try MeasuredProcess.run(arguments)
        guard run.status == 0, let line = run.output.split(separator: "\n").last,
            let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
            let rate = ["rewrap_rows_per_s", "rows_per_s"].lazy.compactMap({
                json[$0] as? Double ?? (json[$0] as? Int).map(Double.init)
            }).first
        else { throw BenchError("\(name) failed (exit \(run.status)): \(run.output.suffix(300))") }
        return (rate, run.peakRSSMiB)
    }

    /// Creates the vault (dated 40 days ago, so rotation is due) and seeds `size` tokens in batches.
    private func seed(_ size: Int, in folder: String, masterKey: MasterKey) throws -> Double {
        let started = Date()
        let past = Date().addingTimeInterval(-40 * 86_400)
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let store = try StateBinding.openStore(
            at: folder + "/tokens.db", vault: vault, source: .create(replacing: false))
        _ = try Self.insertSynthetic(
            size, custodian: TokenCustodian(vault: vault, store: store),
            tenants: Self.newTenants(options.tenants ?? 100),
            tokenBytes: options.tokenBytes, at: past)
        return Date().timeIntervalSince(started)
    }

    /// `count` random tenant ids.
    static func newTenants(_ count: Int) -> [String] { (0..<count).map { _ in UUID().uuidString.lowercased() } }

    /// Seals `size` random refresh tokens of `tokenBytes` characters spread over `tenants` (random user
    /// ids, provider `entra`) and inserts them in batches of 1,000 with `insertBatch`. Returns the seconds
    /// spent in `insertBatch` alone (the store's share of the seeding).
    static func insertSynthetic(
        _ size: Int, custodian: TokenCustodian, tenants: [String], tokenBytes: Int, at past: Date
    ) throws -> Double {
        var inserting = 0.0
        var batch: [StoredToken] = []
        batch.reserveCapacity(1_000)
        for index in 0..<size {
            let key = TokenKey(
                tenant: tenants[index % tenants.count], user: UUID().uuidString.lowercased(), provider: "entra")
            let token = SecretText(
                String(Data(try SecureRandom.bytes(tokenBytes * 3 / 4)).base64EncodedString().prefix(tokenBytes)))
            let (version, sealed, wrappedKey) = try custodian.seal(
                token, for: key, secret: TokenCustodian.secretName(for: key))
            batch.append(
                StoredToken(
                    key: key, secretName: key.tenant, keyVersion: version, sealedToken: sealed, issuedAt: past,
                    expiresAt: nil, updatedAt: past, wrappedKey: wrappedKey))
            if batch.count == 1_000 || index == size - 1 {
                let started = Date()
                try custodian.store.insertBatch(batch)
                inserting += Date().timeIntervalSince(started)
                batch.removeAll(keepingCapacity: true)
            }
            if index % 100_000 == 99_999 { FileHandle.standardError.write(Data("seeded \(index + 1)\r".utf8)) }
        }
        return inserting
    }

    /// Opens a sample of rows with the library to show the rotation left them readable under version 2.
    private func verifySample(folder: String, masterKey: MasterKey) throws {
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        try Self.verifySample(TokenCustodian(vault: vault, store: try SQLiteTokenStore(path: folder + "/tokens.db")))
    }

    /// Opens the first 1,000 rows of the custodian's store to show they are readable under version 2.
    static func verifySample(_ custodian: TokenCustodian) throws {
        var checked = 0
        var rows: [StoredToken] = []
        try custodian.store.forEach { row in
            rows.append(row)
            return rows.count < 1_000
        }
        for row in rows {
            guard row.keyVersion == 2 else { throw BenchError("row \(row.key) is still on version \(row.keyVersion)") }
            _ = try custodian.open(row)
            checked += 1
        }
        guard checked > 0 else { throw BenchError("no rows to verify") }
    }
}

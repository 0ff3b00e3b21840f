import Foundation
import TokenKeeper

#if canImport(FoundationNetworking)

    import FoundationNetworking
#endif

/// Times a refresh stage of the real `tokenkeeper run` against the project's own identity provider
/// (Tests/IdentityProvider/idp.py: Authlib, rotating refresh tokens with reuse detection) on 127.0.0.1.
///
/// Seeds N tokens from real sign-ins, all due, then runs one refresh stage at the given concurrency and
/// prints tokens per second (refreshed tokens over the stage's duration) and tokenkeeper's own CPU time
/// per refresh (user + system, from GNU time, over the whole process). The provider's CPU per refresh is
/// printed beside it: on one machine the two share the cores, and the provider is usually the bottleneck.
/// Bounded: the provider must start within 30 s, and the run is killed after 60 s + 20 ms per token.

struct RefreshBenchmark {
    let tokens: Int
    let options: BenchOptions

    /// The figures of one run.
    struct Figures: Codable {
        var tokens: Int
        var tenants: Int
        var concurrency: Int
        var seedSeconds: Double
        var processSeconds: Double
        var stageSeconds: Double
        var tokensPerSecond: Double
        var tokenkeeperCPUMillisecondsPerRefresh: Double
        var tokenkeeperUserSeconds: Double
        var tokenkeeperSystemSeconds: Double
        var peakRSSMiB: Double
        var identityProviderCPUMillisecondsPerRefresh: Double?
    }

    func run() async throws {
        let tenants = min(options.tenants ?? 10, tokens)
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-refresh-bench-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let provider = try BenchIdentityProvider(python: options.python, script: options.identityProvider)
        defer { provider.stop() }
        print(
            "tokenkeeper refresh benchmark: \(tokens) tokens over \(tenants) tenants, concurrency \(options.concurrency), "
                + "identity provider \(provider.baseURL) (\(ProcessInfo.processInfo.activeProcessorCount) cores)")
        fflush(nil)  // the header before the run's own output

        let masterKey = try MasterKey.generate()
        let seedSeconds = try await seed(tenants: tenants, in: folder, masterKey: masterKey, provider: provider)
        let spec = folder + "/refresh.yml"
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
            providers:
              local:
                kind: oauth2
                token_endpoint: \(provider.baseURL)/token
                client_id: tokenkeeper
                client_secret: env:IDP_CLIENT_SECRET
                scope: offline_access
            stages:
              - name: refresh-tokens
                kind: refresh
                provider: local
                refresh_after: 7d
                concurrency: \(options.concurrency)
                retries: 3
                request_timeout: 30s
                lease: 5m
            report:
              json: ./reports/bench.json
            """.utf8
        ).write(to: URL(fileURLWithPath: spec))
        let environment = [
            "TOKENKEEPER_MASTER_KEY": masterKey.base64, "IDP_CLIENT_SECRET": provider.clientSecret, "CI": "true",
        ]
        let providerCPUBefore = provider.cpuSeconds()
        let run = try MeasuredProcess.run(
            [options.tokenkeeper, "run", spec], environment: environment,
            timeout: 60 + 0.02 * Double(tokens))
        let providerCPU = provider.cpuSeconds().flatMap { after in providerCPUBefore.map { after - $0 } }
        guard run.status == 0 else { throw BenchError("the refresh run exited \(run.status)") }
        let report = try JSONReportWriter.read(Data(contentsOf: URL(fileURLWithPath: folder + "/reports/bench.json")))
        let stage = report.stages[0]
        let refreshed = stage.counts.first { $0.name == "tokens_refreshed" }?.value ?? 0
        guard refreshed == tokens else {
            throw BenchError("the run refreshed \(refreshed) of \(tokens) tokens: \(stage.summary)")
        }
        let stats = try await provider.admin("admin/stats")
        guard (stats["reuse_detected"] as? Int) == 0, (stats["redemptions"] as? Int) == tokens else {
            throw BenchError(
                "the identity provider saw \(stats["redemptions"] ?? "?") redemptions of \(tokens) and "
                    + "\(stats["reuse_detected"] ?? "?") reused tokens")
        }
        let cpu = run.userSeconds + run.systemSeconds
        let figures = Figures(
            tokens: tokens, tenants: tenants, concurrency: options.concurrency, seedSeconds: seedSeconds,
            processSeconds: run.seconds,
            stageSeconds: stage.duration, tokensPerSecond: Double(tokens) / stage.duration,
            tokenkeeperCPUMillisecondsPerRefresh: cpu * 1000 / Double(tokens), tokenkeeperUserSeconds: run.userSeconds,
            tokenkeeperSystemSeconds: run.systemSeconds, peakRSSMiB: run.peakRSSMiB,
            identityProviderCPUMillisecondsPerRefresh: providerCPU.map { $0 * 1000 / Double(tokens) })
        print(Self.describe(figures))
        try BenchOutput.printJSON(figures)
    }

    static func describe(_ f: Figures) -> String {
        var lines = [
            "", "N = \(f.tokens)  (seeded in \(String(format: "%.1f", f.seedSeconds)) s)",
            String(
                format: "  tokenkeeper refresh: %8.0f tokens/s  (stage %.2f s, process %.2f s), peak RSS %.1f MiB",
                f.tokensPerSecond, f.stageSeconds, f.processSeconds, f.peakRSSMiB),
            String(
                format: "  tokenkeeper CPU:     %8.3f ms per refresh  (user %.2f s, system %.2f s)",
                f.tokenkeeperCPUMillisecondsPerRefresh, f.tokenkeeperUserSeconds, f.tokenkeeperSystemSeconds),
        ]
        if let idp = f.identityProviderCPUMillisecondsPerRefresh {
            lines.append(String(format: "  identity provider:   %8.3f ms CPU per refresh", idp))
        }
        return lines.joined(separator: "\n")
    }

    /// Creates the vault and store, signs every user in at the provider and stores their refresh tokens
    /// as refreshed 8 days ago (so `refresh_after: 7d` makes every one due).
    private func seed(tenants: Int, in folder: String, masterKey: MasterKey, provider: BenchIdentityProvider)
        async throws -> Double
    {
        let started = Date()
        let past = Date().addingTimeInterval(-8 * 86_400)
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench", clock: { past })
        let store = try StateBinding.openStore(
            at: folder + "/tokens.db", vault: vault, source: .create(replacing: false))
        let custodian = TokenCustodian(vault: vault, store: store)
        for tenant in 0..<tenants {
            let name = String(format: "tenant-%04d", tenant)
            let users = stride(from: tenant, to: tokens, by: tenants).map { String(format: "user-%07d", $0) }
            for chunk in stride(from: 0, to: users.count, by: 1_000).map({
                Array(users[$0..<min($0 + 1_000, users.count)])
            }) {
                let answer = try await provider.admin("admin/signin", ["tenant": name, "users": chunk])
                guard let refreshTokens = answer["refresh_tokens"] as? [String], refreshTokens.count == chunk.count
                else {
                    throw BenchError(
                        "the identity provider signed in \((answer["refresh_tokens"] as? [Any])?.count ?? 0) of \(chunk.count) users"
                    )
                }
                var batch: [StoredToken] = []
                for (user, token) in zip(chunk, refreshTokens) {
                    let key = TokenKey(tenant: name, user: user, provider: "local")
                    let (version, sealed, wrappedKey) = try custodian.seal(SecretText(token), for: key, secret: name)
                    batch.append(
                        StoredToken(
                            key: key, secretName: name, keyVersion: version, sealedToken: sealed, issuedAt: past,
                            updatedAt: past, wrappedKey: wrappedKey))
                }
                try custodian.store.insertBatch(batch)
            }
        }
        return Date().timeIntervalSince(started)
    }
}

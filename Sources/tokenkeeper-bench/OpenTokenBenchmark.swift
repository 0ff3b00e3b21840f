import Foundation
import TokenKeeper

/// `--open-token N`: the time to open one stored token through the library (`TokenCustodian.open(_:)`:
/// the row read from the SQLite store, then decrypted) with a warm key cache, in microseconds. Issue 14
/// point 6 asks for it before and after envelope encryption: this file uses only API that both layouts
/// have (`put`, `open`), so the same benchmark builds on the commit before the envelope change.
struct OpenTokenBenchmark {
    let tokens: Int
    let options: BenchOptions

    /// The figures printed and sent as JSON.
    struct Figures: Codable {
        var tokens: Int
        var opens: Int
        var p50Microseconds: Double
        var p99Microseconds: Double
        var meanMicroseconds: Double
        /// The same, split: the row read from the store alone, and the decryption of a row already read.
        var readP50Microseconds: Double
        var decryptP50Microseconds: Double
    }

    func run() throws {
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-bench-open-\(getpid())")
        try? FileManager.default.removeItem(atPath: folder)
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let masterKey = try MasterKey.generate()
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        let vault = try FileVault.open(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        let store = try StateBinding.openStore(
            at: folder + "/tokens.db", vault: vault, source: .create(replacing: false))
        let custodian = TokenCustodian(vault: vault, store: store)
        let tenants = (0..<(options.tenants ?? 100)).map { _ in UUID().uuidString.lowercased() }
        var keys: [TokenKey] = []
        let now = Date()
        for index in 0..<tokens {
            let key = TokenKey(
                tenant: tenants[index % tenants.count], user: UUID().uuidString.lowercased(), provider: "entra")
            let token = SecretText(
                String(
                    Data(try SecureRandom.bytes(options.tokenBytes * 3 / 4)).base64EncodedString().prefix(
                        options.tokenBytes)))
            try custodian.put(key, token: token, issuedAt: now, expiresAt: nil)
            keys.append(key)
        }
        // Warm: every tenant's key version fetched once (the key cache), every page read once.
        for key in keys { _ = try custodian.open(key) }
        let rounds = max(1, 20_000 / keys.count)
        var whole: [Double] = [], reads: [Double] = [], decrypts: [Double] = []
        for _ in 0..<rounds {
            for key in keys {
                let start = DispatchTime.now().uptimeNanoseconds
                _ = try custodian.open(key)
                whole.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1_000)
            }
        }
        for key in keys {
            let start = DispatchTime.now().uptimeNanoseconds
            guard let row = try custodian.store.get(key) else { throw BenchError("row \(key) is gone") }
            let read = DispatchTime.now().uptimeNanoseconds
            _ = try custodian.open(row)
            reads.append(Double(read - start) / 1_000)
            decrypts.append(Double(DispatchTime.now().uptimeNanoseconds - read) / 1_000)
        }
        whole.sort()
        reads.sort()
        decrypts.sort()
        let figures = Figures(
            tokens: tokens, opens: whole.count, p50Microseconds: AccessBenchmark.percentile(whole, 0.5),
            p99Microseconds: AccessBenchmark.percentile(whole, 0.99),
            meanMicroseconds: whole.reduce(0, +) / Double(whole.count),
            readP50Microseconds: AccessBenchmark.percentile(reads, 0.5),
            decryptP50Microseconds: AccessBenchmark.percentile(decrypts, 0.5))
        print(
            String(
                format:
                    "open one token (TokenCustodian.open, warm key cache), %d tokens, %d opens: p50 %.1f µs, p99 %.1f µs, mean %.1f µs (store read p50 %.1f µs, decryption p50 %.1f µs)",
                tokens, figures.opens, figures.p50Microseconds, figures.p99Microseconds, figures.meanMicroseconds,
                figures.readP50Microseconds, figures.decryptP50Microseconds))
        try BenchOutput.printJSON(figures)
    }
}

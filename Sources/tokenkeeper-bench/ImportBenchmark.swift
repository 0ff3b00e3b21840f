import Foundation
import TokenKeeper

/// Times `tokenkeeper token import` of N token endpoint responses (JSON lines, each with an id_token
/// naming one of the tenants and a user, and a refresh token of `--token-bytes` bytes) into a new
/// vault and store: tokens per second and the import's peak memory (GNU time), which must not grow
/// with N since the input is streamed.

struct ImportBenchmark {
    let responses: Int
    let options: BenchOptions

    /// What one run measured.
    struct Figures: Codable {
        var responses: Int
        var inputMiB: Double
        var writeSeconds: Double
        var importSeconds: Double
        var tokensPerSecond: Double
        var peakRSSMiB: Double
    }

    func run() throws {
        let folder = options.directory + "/tokenkeeper-import-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        chmod(folder, 0o700)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let masterKey = try MasterKey.generate()
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "bench")
        let started = Date()
        let input = folder + "/responses.jsonl"
        let bytes = try writeResponses(to: input)
        let writeSeconds = Date().timeIntervalSince(started)
        let run = try MeasuredProcess.run(
            [
                options.tokenkeeper, "token", "import", input, "--provider", "entra", "--vault", folder + "/vault",
                "--store",
                folder + "/tokens.db",
            ],
            environment: ["TOKENKEEPER_MASTER_KEY": masterKey.base64, "TOKENKEEPER_PRINCIPAL": "bench", "CI": "true"],
            timeout: 60 + Double(responses) / 2_000)
        guard run.status == 0, run.output.contains("added \(responses),") else {
            throw BenchError("token import failed (exit \(run.status)): \(run.output.suffix(300))")
        }
        let figures = Figures(
            responses: responses, inputMiB: Double(bytes) / 1_048_576, writeSeconds: writeSeconds,
            importSeconds: run.seconds, tokensPerSecond: Double(responses) / run.seconds, peakRSSMiB: run.peakRSSMiB)
        print(
            String(
                format:
                    "token import: %d responses (%.0f MiB of JSON lines, %d-byte refresh tokens, %d cores): %.0f tokens/s "
                    + "(%.2f s), peak RSS %.1f MiB", responses, figures.inputMiB, options.tokenBytes,
                ProcessInfo.processInfo.activeProcessorCount, figures.tokensPerSecond, figures.importSeconds,
                figures.peakRSSMiB))
        try BenchOutput.printJSON(figures)
    }

    /// Writes the responses file, a megabyte at a time. Returns its size in bytes.
    private func writeResponses(to path: String) throws -> Int {
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
        guard let handle = FileHandle(forWritingAtPath: path) else { throw BenchError("cannot write \(path)") }
        defer { try? handle.close() }
        let tenants = (0..<(options.tenants ?? 100)).map { _ in UUID().uuidString.lowercased() }
        let token = String(repeating: "r", count: max(1, options.tokenBytes - 12))
        var chunk = ""
        var total = 0
        for index in 0..<responses {
            let claims = #"{"tid":"\#(tenants[index % tenants.count])","oid":"user-\#(index)"}"#
            let idToken = "eyJhbGciOiJub25lIn0." + Self.base64URL(claims) + ".sig"
            chunk += #"{"refresh_token":"rt-\#(index)-\#(token)","id_token":"\#(idToken)","expires_in":3600}"#
            chunk += "\n"
            if chunk.utf8.count >= 1_048_576 || index == responses - 1 {
                total += chunk.utf8.count
                try handle.write(contentsOf: Data(chunk.utf8))
                chunk = ""
            }
        }
        return total
    }

    private static func base64URL(_ text: String) -> String {
        Data(text.utf8).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

import Foundation
import TokenKeeper

/// `tokenkeeper-bench`: the rotation benchmark of issue 3, tokenkeeper and the Python baseline side by
/// side in one run, and (`--access-users`) library token use against the project's identity provider.
/// See `scripts/bench` and the README's Performance section.

@main
struct Entrypoint {
    static func main() async {
        do {
            let options = try BenchOptions(arguments: Array(CommandLine.arguments.dropFirst()))
            if let host = options.loadHost {
                try await LoadTestHost(schedule: host.schedule, output: host.output).run()
            } else if options.loadTest {
                try await LoadTestBenchmark(options: options).run()
            } else if options.backend == "postgres" {
                try PostgresRotationBenchmark(options: options).run()
            } else if let tokens = options.openTokens {
                try OpenTokenBenchmark(tokens: tokens, options: options).run()
            } else if let tokens = options.accessDuringRotation {
                try await AccessDuringRotationBenchmark(tokens: tokens, options: options).run()
            } else if options.accessUsers != nil {
                try await AccessBenchmark(options: options).run()
            } else {
                try await RotationBenchmark(options: options).run()
            }
        } catch let error as BenchUsage {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            exit(error.isHelp ? 0 : 2)
        } catch {
            FileHandle.standardError.write(Data("tokenkeeper-bench: error: \(error)\n".utf8))
            exit(1)
        }
    }
}

import Foundation

/// How every benchmark ends its output: one line of JSON (sorted keys) with the figures, for programs.
enum BenchOutput {
    /// Prints `figures` as one line of JSON.
    static func printJSON(_ figures: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(figures), as: UTF8.self))
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Support

/// `token import` reads JSON lines as a stream: a large input is handed on in batches of lines, with the
/// same per-entry outcomes and line numbers as a whole read, and a small one is read whole as before.
@Suite struct TokenImportStreamTests {
    /// `count` token endpoint responses, one per line, the users `u0`, `u1`, ... of tenant `t1`.
    static func responses(_ count: Int) -> [String] {
        (0..<count).map { index in
            let idToken = JWTFixture.idToken([
                "tid": "t1", "oid": "u\(index)", "pad": String(repeating: "x", count: 200),
            ])
            return #"{"refresh_token":"rt-\#(index)","id_token":"\#(idToken)","expires_in":3600}"#
        }
    }

    private func read(_ text: String, in folder: String, batchSize: Int) throws -> [TokenImportParser.Result] {
        let path = folder + "/input.jsonl"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        let stream = TokenImportStream(
            handle: try PrivateFiles.openForReading(path), source: path, provider: "entra", defaultTenant: nil,
            now: Date(timeIntervalSince1970: 1_800_000_000))
        var batches: [TokenImportParser.Result] = []
        try stream.read(batchSize: batchSize) { batches.append($0) }
        return batches
    }

    @Test func aLargeInputIsHandedOnInBatchesWithTheLineNumbersOfAWholeRead() throws {
        try withTemporaryDirectory { folder in
            var lines = Self.responses(3_000)
            lines[1_500] = "not json"
            lines[2_000] = ""
            let text = lines.joined(separator: "\n")
            #expect(text.utf8.count > 2 * TokenImportStream.chunkSize, "the input must be larger than a read")
            let batches = try read(text, in: folder, batchSize: 1_000)
            #expect(batches.count == 3)
            #expect(batches.allSatisfy { $0.records.count + $0.problems.count <= 1_000 })
            let whole = try TokenImportParser.parse(
                Data(text.utf8), source: "input", provider: "entra", defaultTenant: nil,
                now: Date(timeIntervalSince1970: 1_800_000_000))
            #expect(batches.flatMap(\.records).map(\.location) == whole.records.map(\.location))
            #expect(batches.flatMap(\.records).map(\.key) == whole.records.map(\.key))
            #expect(batches.flatMap(\.problems) == whole.problems)
            #expect(
                whole.problems == [ImportProblem(location: "line 1501", reason: "not a JSON object", isSkip: false)])
            #expect(batches.flatMap(\.records).count == 2_998)
        }
    }

    @Test func theLastLineWithoutANewlineIsRead() throws {
        try withTemporaryDirectory { folder in
            let text = Self.responses(2_000).joined(separator: "\n")  // no newline at the end
            let records = try read(text, in: folder, batchSize: 500).flatMap(\.records)
            #expect(records.count == 2_000)
            #expect(records.last?.location == "line 2000")
        }
    }

    @Test func aSmallInputIsReadWholeAsBefore() throws {
        try withTemporaryDirectory { folder in
            let batches = try read(Self.responses(1)[0], in: folder, batchSize: 1_000)
            #expect(batches.count == 1)
            #expect(batches[0].records.map(\.location) == ["object 1"])
        }
    }

    @Test func prepareRunsOnTheReadingThreadAndTheCallerGetsEveryBatchPreparedInOrder() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/input.jsonl"
            try Data(Self.responses(3_000).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
            let stream = TokenImportStream(
                handle: try PrivateFiles.openForReading(path), source: path, provider: "entra", defaultTenant: nil,
                now: Date(timeIntervalSince1970: 1_800_000_000))
            let caller = pthread_self()
            var prepared: [(first: String?, onCallersThread: Bool)] = []
            try stream.read(
                batchSize: 1_000,
                prepare: { batch in (batch.records.first?.location, pthread_equal(pthread_self(), caller) != 0) }
            ) { prepared.append($0) }
            #expect(prepared.map(\.first) == ["line 1", "line 1001", "line 2001"])
            #expect(prepared.allSatisfy { !$0.onCallersThread })
        }
    }

    @Test func anErrorOfPrepareReachesTheCallerAfterTheBatchesPreparedBeforeIt() throws {
        struct SealingFailed: Error {}
        try withTemporaryDirectory { folder in
            let path = folder + "/input.jsonl"
            try Data(Self.responses(3_000).joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: path))
            let stream = TokenImportStream(
                handle: try PrivateFiles.openForReading(path), source: path, provider: "entra", defaultTenant: nil,
                now: Date(timeIntervalSince1970: 1_800_000_000))
            var taken: [String] = []
            #expect(throws: SealingFailed.self) {
                try stream.read(
                    batchSize: 1_000,
                    prepare: { batch in
                        let first = batch.records.first?.location ?? ""
                        if first == "line 2001" { throw SealingFailed() }
                        return first
                    }
                ) { taken.append($0) }
            }
            #expect(taken == ["line 1", "line 1001"])
        }
    }
}

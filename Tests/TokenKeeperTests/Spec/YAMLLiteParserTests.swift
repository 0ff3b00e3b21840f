import Foundation
import Testing

@testable import Report
@testable import Spec

/// The YAML-lite parser, cross-checked against PyYAML: what it accepts must mean the same to PyYAML,
/// and what it refuses is refused at the right place with the right reason.
@Suite struct YAMLLiteParserTests {
    static let fixtures = TestEnvironment.packageRoot + "/Tests/Fixtures/yaml"

    static func files(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasSuffix(".yml") }.sorted()
            .map { folder + "/" + $0 }
    }

    /// The tree as plain Foundation values, like PyYAML's BaseLoader gives them.
    static func plain(_ node: YAMLNode?) -> Any {
        switch node {
        case nil: return NSNull()
        case .scalar(let scalar): return scalar.text
        case .sequence(let sequence): return sequence.items.map { plain($0) }
        case .mapping(let mapping):
            var object: [String: Any] = [:]
            for entry in mapping.entries { object[entry.key.text] = plain(entry.value) }
            return object
        }
    }

    static func pyyaml(_ paths: [String]) throws -> [String: [String: Any]] {
        let result = try runPython([fixtures + "/pyyaml_tree.py"] + paths)
        guard result.status == 0,
            let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]]
        else {
            throw ProcessTimeout(executable: "pyyaml_tree.py", arguments: [result.stderr], seconds: 0)
        }
        return object
    }

    @Test func acceptedCorpusAndExamplesMeanTheSameToPyYAML() throws {
        let paths = Self.files(Self.fixtures + "/accepted") + Self.files(TestEnvironment.packageRoot + "/examples")
        #expect(paths.count >= 25)
        let expected = try Self.pyyaml(paths)
        for path in paths {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let ours: Any
            do {
                ours = Self.plain(try YAMLLiteParser.parse(text, file: path))
            } catch {
                Issue.record("\(path): tokenkeeper refused it: \(error)")
                continue
            }
            guard let tree = expected[path]?["tree"] else {
                Issue.record("\(path): PyYAML refused it: \(expected[path]?["error"] ?? "?")")
                continue
            }
            #expect(NSArray(array: [ours]).isEqual(NSArray(array: [tree])), "\(path): \(ours) != \(tree)")
        }
    }

    @Test func refusedCorpusIsRefusedAtTheExpectedPlaceWithTheExpectedReason() throws {
        let paths = Self.files(Self.fixtures + "/refused")
        #expect(paths.count >= 15)
        for path in paths {
            let text = try String(contentsOfFile: path, encoding: .utf8)
            let header = text.split(separator: "\n")[0]  // "# expect: L:C fragment"
            let parts = header.dropFirst("# expect: ".count).split(separator: " ", maxSplits: 1)
            let position = String(parts[0]), fragment = String(parts[1])
            do {
                _ = try YAMLLiteParser.parse(text, file: "job.yml")
                Issue.record("\(path): accepted, but should be refused")
            } catch let error as SpecError {
                let message = error.description
                #expect(message.hasPrefix("job.yml:\(position): error: "), "\(path): \(message)")
                #expect(message.contains(fragment), "\(path): \(message)")
                #expect(message.contains("; "), "\(path): the message says what to write instead")
            }
        }
    }

    @Test func nodesKeepTheirLineAndColumn() throws {
        let node = try YAMLLiteParser.parse("a:\n  b: [x, 'y']\nlist:\n  - k: v\n", file: "f")
        guard case .mapping(let root) = node, case .mapping(let a) = root["a"], case .sequence(let flow) = a["b"],
            case .sequence(let list) = root["list"], case .mapping(let item) = list.items.first
        else { Issue.record("unexpected tree"); return }
        #expect(root.entries[1].key.mark == SourceMark(line: 3, column: 1))
        #expect(flow.items.map(\.mark) == [SourceMark(line: 2, column: 7), SourceMark(line: 2, column: 10)])
        #expect(item.entries[0].value.mark == SourceMark(line: 4, column: 8))
    }

    @Test func emptyDocumentHasNoRoot() throws {
        #expect(try YAMLLiteParser.parse("# only a comment\n\n", file: "f") == nil)
    }

    @Test func nestingDeeperThanTheLimitIsRefusedNotCrashing() throws {
        var text = ""
        for depth in 0..<100 { text += String(repeating: " ", count: depth * 2) + "k:\n" }
        #expect(throws: SpecError.self) { try YAMLLiteParser.parse(text, file: "f") }
    }

    @Test func mutatedDocumentsNeverCrashOrHang() throws {
        let seeds = try Self.files(Self.fixtures + "/accepted").map {
            Array(try String(contentsOfFile: $0, encoding: .utf8))
        }
        let alphabet: [Character] = [
            ":", "-", "[", "]", "\"", "'", "#", "\t", "\n", " ", "&", "*", "!", "|", ">", "{", "}", "\\", "?", ",", "é",
            "\r",
        ]
        var generator = SplitMix64(seed: 0x7C0E_11E7)
        // The parser's own CPU time, not the wall clock: other tests (crash tests, child processes) share the
        // cores, and a loaded machine must not fail this test; a parser that loops or blows up still does.
        var parsing = 0.0, slowest = 0.0
        var refused = 0, accepted = 0
        for _ in 0..<20_000 {
            var text = seeds[Int(generator.next() % UInt64(seeds.count))]
            for _ in 0..<(1 + Int(generator.next() % 4)) {
                let position = text.isEmpty ? 0 : Int(generator.next() % UInt64(text.count))
                switch generator.next() % 5 {
                case 0: text.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
                case 1: if !text.isEmpty { text.remove(at: position) }
                case 2: text = Array(text.prefix(position))
                case 3: if !text.isEmpty { text.insert(text[position], at: position) }
                default: if !text.isEmpty { text[position] = alphabet[Int(generator.next() % UInt64(alphabet.count))] }
                }
            }
            let lineCount = String(text).unicodeScalars.filter { $0 == "\n" }.count + 1
            let document = String(text)
            let cpuBefore = Self.threadCPUSeconds()
            let outcome = Result { try YAMLLiteParser.parse(document, file: "fuzz.yml") }
            let spent = Self.threadCPUSeconds() - cpuBefore
            parsing += spent
            slowest = max(slowest, spent)
            switch outcome {
            case .success:
                accepted += 1
            case .failure(let error as SpecError):
                refused += 1
                let mark = error.diagnostics[0].mark
                #expect(mark.line >= 1 && mark.line <= lineCount && mark.column >= 1, "\(mark) outside the document")
            case .failure(let error):
                throw error
            }
        }
        // A few hundred bytes each: well under a millisecond of CPU apiece in a debug build.
        #expect(slowest < 0.25, "one document took \(slowest) s of CPU to parse")
        #expect(parsing < 20, "20,000 documents took \(parsing) s of CPU to parse")
        #expect(accepted > 0 && refused > 0)
    }

    /// CPU time the calling thread has used, in seconds. A synchronous test runs on one thread throughout, so
    /// the difference around a call is what that call cost, whatever else the machine is doing.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// A small deterministic random generator, so the fuzz test is the same on every run.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

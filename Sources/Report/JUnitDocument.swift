import Foundation
import Support

#if canImport(FoundationXML)

    import FoundationXML
#endif

/// A JUnit XML report as read back: tokenkeeper's own, or any JUnit file a CI produced.
///
/// Reading is a streaming (SAX) parse, so a report of 100,000 testcases is read in well under a
/// second without building a DOM.

public struct JUnitDocument: Sendable, Equatable {
    /// The file it was read from.
    public var path: String
    /// The suites, in file order.
    public var suites: [JUnitSuite]

    /// The run id, from tokenkeeper's `run_id` property (nil for other tools' reports).
    public var runID: String? { suites.lazy.compactMap { $0.properties["run_id"] }.first }
}

/// One `<testsuite>`.
public struct JUnitSuite: Sendable, Equatable {
    /// The suite's name (a tokenkeeper stage).
    public var name: String
    /// When it ran, as the file says.
    public var timestamp: String?
    /// Seconds.
    public var time: Double
    /// Its properties (`run_id`, `spec_sha256`, counts, ...).
    public var properties: [String: String]
    /// Its testcases, in file order.
    public var cases: [JUnitCase]

    /// Cases by outcome.
    public var counts: (passed: Int, failed: Int, skipped: Int) {
        var counts = (passed: 0, failed: 0, skipped: 0)
        for item in cases {
            switch item.outcome {
            case .passed: counts.passed += 1
            case .failed, .errored: counts.failed += 1
            case .skipped: counts.skipped += 1
            }
        }
        return counts
    }

    public static func == (lhs: JUnitSuite, rhs: JUnitSuite) -> Bool {
        lhs.name == rhs.name && lhs.timestamp == rhs.timestamp && lhs.time == rhs.time
            && lhs.properties == rhs.properties
            && lhs.cases == rhs.cases
    }
}

/// One `<testcase>`.
public struct JUnitCase: Sendable, Equatable {
    /// How it ended.
    public enum Outcome: String, Sendable, Codable {
        case passed, failed, errored, skipped
    }
    /// The case's name (a tenant, or `tenant/user/provider`).
    public var name: String
    /// Its class name (`tokenkeeper.JOB.STAGE`).
    public var classname: String
    /// Seconds.
    public var time: Double
    /// How it ended.
    public var outcome: Outcome
    /// The `type` attribute of a failure or error (tokenkeeper's ``FailureType`` raw values).
    public var type: String?
    /// The `message` attribute of a failure, error or skip.
    public var message: String?
}

/// A file that is not a JUnit report tokenkeeper can read.
public struct JUnitReadError: ActionableError {
    /// The file.
    public let path: String
    /// What is wrong with it.
    public let problem: String
    public var item: String { path }
    public var remedy: String {
        "Give a JUnit XML report (a <testsuites> or <testsuite> document), such as tokenkeeper run writes."
    }
    public var exitStatus: ExitStatus { .usage }
}

extension JUnitDocument {
    /// Reads the report at `path`.
    /// - throws: ``JUnitReadError`` for a file that is not well-formed JUnit XML, file errors.
    public static func read(path: String) throws -> JUnitDocument {
        let bytes = try PrivateFiles.readFile(path)
        return try parse(Data(bytes), path: path)
    }

    /// Reads several reports at once, one per core, in the order given.
    /// - throws: the first error, in the order of `paths`.
    public static func read(paths: [String]) throws -> [JUnitDocument] {
        let results = ResultSlots(count: paths.count)
        DispatchQueue.concurrentPerform(iterations: paths.count) { index in
            results.set(index, Result { try read(path: paths[index]) })
        }
        return try results.values.map { try $0!.get() }
    }

    /// Parses report bytes, in time linear in their size: a file with an element of more than
    /// ``JUnitInputCheck/maximumAttributesPerElement`` attributes, or a DOCTYPE, is refused first.
    /// - throws: ``JUnitReadError``.
    public static func parse(_ data: Data, path: String) throws -> JUnitDocument {
        try data.withUnsafeBytes { try JUnitInputCheck.check($0, path: path) }
        let delegate = JUnitParserDelegate()
        // A stream, not `XMLParser(data:)`: on Linux the latter hands libxml2 the whole document in one
        // chunk and fails on documents over about 10 MB; a stream feeds it in pieces.
        let parser = XMLParser(stream: InputStream(data: data))
        parser.delegate = delegate
        guard parser.parse(), delegate.sawRoot, delegate.depth == 0 else {
            let reason =
                parser.parserError.map { "line \(parser.lineNumber): \($0.localizedDescription)" }
                ?? (delegate.sawRoot
                    ? "the document ends before its elements are closed" : "no <testsuites> or <testsuite> element")
            throw JUnitReadError(path: path, problem: "is not a readable JUnit report (\(reason))")
        }
        return JUnitDocument(path: path, suites: delegate.suites)
    }
}

/// The SAX handler behind ``JUnitDocument/parse(_:path:)``.
private final class JUnitParserDelegate: NSObject, XMLParserDelegate {
    var suites: [JUnitSuite] = []
    var sawRoot = false
    /// Elements open now: a document that ends with some still open was cut short.
    var depth = 0
    private var suite: JUnitSuite?
    private var testcase: JUnitCase?

    func parser(
        _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
    ) {
        depth += 1
        switch name {
        case "testsuites":
            sawRoot = true
        case "testsuite":
            sawRoot = true
            suite = JUnitSuite(
                name: attributes["name"] ?? "", timestamp: attributes["timestamp"],
                time: Double(attributes["time"] ?? "") ?? 0, properties: [:], cases: [])
        case "property":
            if let key = attributes["name"] { suite?.properties[key] = attributes["value"] ?? "" }
        case "testcase":
            testcase = JUnitCase(
                name: attributes["name"] ?? "", classname: attributes["classname"] ?? "",
                time: Double(attributes["time"] ?? "") ?? 0, outcome: .passed)
        case "failure", "error", "skipped":
            testcase?.outcome = name == "failure" ? .failed : name == "error" ? .errored : .skipped
            testcase?.type = attributes["type"]
            testcase?.message = attributes["message"]
        default:
            break
        }
    }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        depth -= 1
        switch name {
        case "testcase":
            if let testcase { suite?.cases.append(testcase) }
            testcase = nil
        case "testsuite":
            if let suite { suites.append(suite) }
            suite = nil
        default:
            break
        }
    }
}

/// One result slot per report read in parallel. `@unchecked Sendable`: every slot is written by
/// exactly one iteration, under the lock, and read only after all iterations have finished.
private final class ResultSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Result<JUnitDocument, any Error>?]

    init(count: Int) { slots = Array(repeating: nil, count: count) }

    func set(_ index: Int, _ result: Result<JUnitDocument, any Error>) {
        lock.lock()
        slots[index] = result
        lock.unlock()
    }

    var values: [Result<JUnitDocument, any Error>?] {
        lock.lock()
        defer { lock.unlock() }
        return slots
    }
}

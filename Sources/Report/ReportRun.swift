import Foundation
import Support

/// The report files of one run read as one: a whole run's file, or the N files of a run split into
/// shards (`run --shard K/N`), which share the run id and carry the properties `shard` and `shards`.
///
/// The shards' suites are merged by stage name: cases of every shard, the longest shard's time (the
/// shards run side by side). A shard whose file is missing is listed in ``missingShards``: its
/// tenants were not run, and nothing of them counts as fixed.
public struct ReportRun: Sendable, Equatable {
    /// The run id the files share (nil for other tools' reports).
    public var runID: String?
    /// N for a sharded run; nil for a whole run.
    public var shardCount: Int?
    /// The files read, in shard order.
    public var files: [String]
    /// The shards (1...N) whose file is missing; empty for a whole run.
    public var missingShards: [Int]
    /// Per shard present, the stages (suite names) that ran in it.
    public var stagesRunPerShard: [Int: Set<String>]
    /// The files' suites merged into one document, in first-seen order.
    public var merged: JUnitDocument

    /// Whether every shard's file is there.
    public var isComplete: Bool { missingShards.isEmpty }

    /// Reads `documents` as one run: one file, or shard files of one run.
    /// - Parameter expectedShards: N when the caller knows the run has N shards (`--shards N`): a run
    ///   with another number of shards is refused, and with N = 1 one whole run's file is expected.
    /// - throws: ``ReportRunError`` when the files are of different runs, mix a whole run with shards,
    ///   give a shard twice or disagree on N.
    public static func combine(_ documents: [JUnitDocument], expectedShards: Int? = nil) throws -> ReportRun {
        precondition(!documents.isEmpty, "a run has at least one file")
        let sharded = documents.filter { $0.shard != nil }
        if sharded.isEmpty, documents.count == 1, expectedShards ?? 1 == 1 {
            let document = documents[0]
            return ReportRun(
                runID: document.runID, shardCount: nil, files: [document.path], missingShards: [],
                stagesRunPerShard: [1: Set(document.suites.filter(ReportDiff.ran).map(\.name))], merged: document)
        }
        let runIDs = Set(documents.map { $0.runID ?? "" })
        guard runIDs.count == 1 else {
            throw ReportRunError.differentRuns(
                documents.map { "\(($0.path as NSString).lastPathComponent) (run \($0.runID ?? "unknown"))" })
        }
        if sharded.isEmpty, documents.count == 1 {
            throw ReportRunError.notTheExpectedShards(expected: expectedShards ?? 1, found: 1)
        }
        if sharded.isEmpty { throw ReportRunError.wholeTwice(paths: documents.map(\.path)) }
        if let whole = documents.first(where: { $0.shard == nil }) {
            throw ReportRunError.wholeAmongShards(path: whole.path)
        }
        let counts = Set(sharded.map { $0.shard!.count })
        guard counts.count == 1, let count = counts.first else {
            throw ReportRunError.shardCountsDiffer(sharded.map { "\($0.path): \($0.shard!.count)" })
        }
        if let expectedShards, expectedShards != count {
            throw ReportRunError.notTheExpectedShards(expected: expectedShards, found: count)
        }
        var byShard: [Int: JUnitDocument] = [:]
        for document in sharded {
            let index = document.shard!.index
            if let earlier = byShard[index] {
                throw ReportRunError.shardTwice(index: index, count: count, paths: [earlier.path, document.path])
            }
            byShard[index] = document
        }
        let ordered = byShard.keys.sorted().map { byShard[$0]! }
        return ReportRun(
            runID: ordered[0].runID, shardCount: count, files: ordered.map(\.path),
            missingShards: (1...count).filter { byShard[$0] == nil },
            stagesRunPerShard: byShard.mapValues { Set($0.suites.filter(ReportDiff.ran).map(\.name)) },
            merged: merge(ordered))
    }

    /// The shards' suites merged by name: every case, the longest time, the first shard's properties
    /// (with `stage_result` saying the stage ran when it ran in any shard).
    static func merge(_ documents: [JUnitDocument]) -> JUnitDocument {
        var suites: [JUnitSuite] = []
        var position: [String: Int] = [:]
        for document in documents {
            for suite in document.suites {
                guard let at = position[suite.name] else {
                    position[suite.name] = suites.count
                    suites.append(suite)
                    continue
                }
                suites[at].cases += suite.cases
                suites[at].time = max(suites[at].time, suite.time)
                if ReportDiff.ran(suite), !ReportDiff.ran(suites[at]) {
                    suites[at].properties["stage_result"] = suite.properties["stage_result"]
                }
            }
        }
        return JUnitDocument(path: documents.map(\.path).joined(separator: ", "), suites: suites)
    }

    /// Whether this run covered `item` (a tenant, or `tenant/user/provider`) of `stage`: the stage ran
    /// in the shard the item's tenant falls in. `shardOfTenant(tenant, N)` is the job's stable tenant
    /// hash (``TenantShard`` in Custody), passed in because reports do not compute it.
    public func covers(stage: String, item: String, shardOfTenant: (String, Int) -> Int) -> Bool {
        guard let count = shardCount else { return stagesRunPerShard[1]?.contains(stage) ?? false }
        let tenant = String(item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        return stagesRunPerShard[shardOfTenant(tenant, count)]?.contains(stage) ?? false
    }

    /// "shard 2 of 4" lines for the shards without a file.
    public var missingShardLines: [String] {
        guard let count = shardCount else { return [] }
        return missingShards.map { "shard \($0) of \(count): not run (no report file)" }
    }
}

extension JUnitDocument {
    /// Shard K of N, from tokenkeeper's `shard` and `shards` properties (nil for a whole run's report).
    public var shard: (index: Int, count: Int)? {
        guard let suite = suites.first(where: { $0.properties["shards"] != nil }),
            let index = suite.properties["shard"].flatMap({ Int($0) }),
            let count = suite.properties["shards"].flatMap({ Int($0) }), count >= 1, (1...count).contains(index)
        else { return nil }
        return (index, count)
    }
}

/// Report files that do not make one run.
public enum ReportRunError: ActionableError, Equatable {
    /// Files of different runs (file and run id each).
    case differentRuns([String])
    /// A whole run's file among shard files.
    case wholeAmongShards(path: String)
    /// A whole run's report given more than once.
    case wholeTwice(paths: [String])
    /// Shard files that disagree on N.
    case shardCountsDiffer([String])
    /// The same shard twice.
    case shardTwice(index: Int, count: Int, paths: [String])
    /// `--shards N` given, the files say another N.
    case notTheExpectedShards(expected: Int, found: Int)

    public var item: String {
        switch self {
        case .differentRuns: "report files"
        case .wholeAmongShards(let path): path
        case .wholeTwice: "report files"
        case .shardCountsDiffer: "report files"
        case .shardTwice(let index, let count, _): "shard \(index) of \(count)"
        case .notTheExpectedShards: "--shards"
        }
    }

    public var problem: String {
        switch self {
        case .differentRuns(let files):
            "the files are of different runs (\(files.map { DisplayText.escaped($0) }.joined(separator: ", "))), "
                + "and one run's shard files are read together"
        case .wholeAmongShards: "is a whole run's report, given among the shard files of a run"
        case .wholeTwice(let paths):
            "one run's report is given more than once (\(paths.map { DisplayText.escaped($0) }.joined(separator: ", ")))"
        case .shardCountsDiffer(let files):
            "the shard files disagree on the number of shards (\(files.map { DisplayText.escaped($0) }.joined(separator: ", ")))"
        case .shardTwice(_, _, let paths):
            "is given twice (\(paths.map { DisplayText.escaped($0) }.joined(separator: ", ")))"
        case .notTheExpectedShards(let expected, let found):
            "\(expected) shards expected, but the files are of a run of \(found == 1 ? "1 shard (a whole run)" : "\(found) shards")"
        }
    }

    public var remedy: String {
        switch self {
        case .differentRuns, .wholeAmongShards, .wholeTwice, .shardCountsDiffer, .shardTwice:
            "Give the files of one run only: the N files NAME-K-of-N.xml that share its run id "
                + "(report show FILES...), or compare two runs with report diff --before FILES... --after FILES...."
        case .notTheExpectedShards:
            "Give the files of the run the pipeline started, or --shards with that run's number of shards."
        }
    }

    public var exitStatus: ExitStatus { .usage }
}

import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Spec
@testable import Support

/// The reports of a run split into N shards: each shard's JUnit file carries the run id and the
/// properties `shard` and `shards`, still valid JUnit; `report show` and `report diff` read the N files
/// as one run, show a shard whose file is missing as not run (never fixed), and refuse files of
/// different runs. Over 3 shards: t4 falls in shard 1, t6 in shard 2, t1 in shard 3.
@Suite struct ShardedReportTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func refresh(_ cases: [CaseReport], result: StageReport.Result = .failed) -> StageReport {
        StageReport(
            name: "refresh-tokens", kind: "refresh", startedAt: start, duration: 1, result: result,
            summary: "refresh", cases: cases)
    }

    static func report(_ stages: [StageReport], runID: String = "20451", shard: (Int, Int)?) -> RunReport {
        RunReport(
            job: "nightly", runID: runID, specPath: "/jobs/nightly.yml", specSHA256: String(repeating: "a", count: 64),
            dryRun: false, toolVersion: "0.1.0", principal: "pipeline", hostname: "agent", startedAt: start,
            duration: 2, stages: stages, shard: shard.map { RunReport.Shard(index: $0.0, count: $0.1) })
    }

    static func document(_ report: RunReport, _ path: String) throws -> JUnitDocument {
        try JUnitDocument.parse(Data(JUnitReportWriter.xml(report).utf8), path: path)
    }

    static func failed(_ name: String) -> CaseReport {
        CaseReport(name: name, status: .failed, failureType: .reauthRequired, code: "AADSTS700082", message: "dead")
    }

    static func passed(_ name: String) -> CaseReport { CaseReport(name: name, status: .passed, message: "refreshed") }

    @Test func aShardsJUnitFileCarriesShardAndShardsAndStillValidatesAgainstBothSchemas() throws {
        try withTemporaryDirectory { folder in
            var report = ReportWriterTests.sampleReport()
            report.shard = RunReport.Shard(index: 2, count: 4)
            let checked = try ReportWriterTests.check(JUnitReportWriter.xml(report), in: folder)
            #expect((checked["schema_errors"] as? [String]) == [])
            let suites = try #require(checked["suites"] as? [[String: Any]])
            #expect(suites.count == 3)
            for suite in suites {
                let properties = try #require(suite["properties"] as? [String: String])
                #expect(properties["shard"] == "2")
                #expect(properties["shards"] == "4")
                #expect(properties["run_id"] == report.runID)
            }
            let document = try Self.document(report, "nightly-2-of-4.xml")
            #expect(document.shard?.index == 2 && document.shard?.count == 4)
            // A whole run's file carries neither.
            #expect(!JUnitReportWriter.xml(ReportWriterTests.sampleReport()).contains("name=\"shards\""))
        }
    }

    @Test func shardReportFilesGetTheKOfNSuffixBeforeTheirExtension() {
        let settings = ReportSettingsFixture.settings
        let files = ReportFiles.resolve(settings, job: "nightly", directory: nil, suffix: "-2-of-4")
        #expect(files.junit == "./reports/nightly-2-of-4.xml")
        #expect(files.markdown == "./reports/nightly-2-of-4.md")
        let inFolder = ReportFiles.resolve(settings, job: "nightly", directory: "out", suffix: "-2-of-4")
        #expect(inFolder.junit == "out/nightly-2-of-4.xml")
        #expect(inFolder.json == "out/nightly-2-of-4.json")
        #expect(ReportFiles.resolve(settings, job: "nightly", directory: nil).junit == "./reports/nightly.xml")
    }

    @Test func showReadsTheShardFilesAsOneRunWithTotalsAndFailuresOfEveryShardAndAMissingShardAsNotRun() throws {
        let one = try Self.document(
            Self.report([Self.refresh([Self.passed("t4"), Self.failed("t4/u1/entra")])], shard: (1, 3)),
            "nightly-1-of-3.xml")
        let two = try Self.document(
            Self.report([Self.refresh([Self.failed("t6"), Self.failed("t6/u0/entra")])], shard: (2, 3)),
            "nightly-2-of-3.xml")
        let run = try ReportRun.combine([two, one])
        #expect(run.runID == "20451" && run.shardCount == 3)
        #expect(run.files == ["nightly-1-of-3.xml", "nightly-2-of-3.xml"])
        #expect(run.missingShards == [3])
        let summary = ReportSummary(run)
        #expect(summary.suites.count == 1)
        #expect(summary.suites[0].passed == 1 && summary.suites[0].failed == 3)
        #expect(summary.suites[0].failures["reauth_required"]?.map(\.name) == ["t4/u1/entra", "t6", "t6/u0/entra"])
        #expect(!summary.isComplete)
        let text = summary.text(itemsPerType: 10)
        #expect(text.hasPrefix("run 20451 (nightly-1-of-3.xml, nightly-2-of-3.xml)\n"), "\(text)")
        #expect(text.contains("refresh-tokens: 1 passed, 3 failed, 0 skipped"))
        #expect(text.contains("shard 3 of 3: not run (no report file)"))
        #expect(summary.markdown(itemsPerType: 10).contains("shard 3 of 3: **not run** (no report file)"))
    }

    @Test func filesOfDifferentRunsOrAShardTwiceOrAWholeRunAmongShardsAreRefused() throws {
        let one = try Self.document(Self.report([Self.refresh([])], shard: (1, 2)), "a/nightly-1-of-2.xml")
        let other = try Self.document(
            Self.report([Self.refresh([])], runID: "20452", shard: (2, 2)), "b/nightly-2-of-2.xml")
        #expect(
            throws: ReportRunError.differentRuns(["nightly-1-of-2.xml (run 20451)", "nightly-2-of-2.xml (run 20452)"])
        ) {
            try ReportRun.combine([one, other])
        }
        let again = try Self.document(Self.report([Self.refresh([])], shard: (1, 2)), "c/nightly-1-of-2.xml")
        #expect(
            throws: ReportRunError.shardTwice(
                index: 1, count: 2, paths: ["a/nightly-1-of-2.xml", "c/nightly-1-of-2.xml"])
        ) {
            try ReportRun.combine([one, again])
        }
        let whole = try Self.document(Self.report([Self.refresh([])], shard: nil), "nightly.xml")
        #expect(throws: ReportRunError.wholeAmongShards(path: "nightly.xml")) { try ReportRun.combine([one, whole]) }
        let three = try Self.document(Self.report([Self.refresh([])], shard: (3, 3)), "nightly-3-of-3.xml")
        #expect(throws: ReportRunError.self) { try ReportRun.combine([one, three]) }
        let error = ReportRunError.differentRuns(["x (run 1)", "y (run 2)"])
        #expect(error.exitStatus == .usage)
        #expect(error.description.contains("Give the files of one run only"))
    }

    @Test func diffCallsAnOldFailureInAShardWithoutAReportTonightNotRunNeverFixed() throws {
        let yesterday = try ReportRun.combine([
            try Self.document(
                Self.report(
                    [
                        Self.refresh([
                            Self.failed("t4"), Self.failed("t6"), Self.failed("t1"), Self.failed("t1/u0/entra"),
                        ])
                    ],
                    runID: "20450", shard: nil), "old.xml")
        ])
        // Tonight shards 1 and 2 ran and passed their tenants; shard 3 (t1) left no report.
        let tonight = try ReportRun.combine([
            try Self.document(
                Self.report([Self.refresh([Self.passed("t4")], result: .passed)], shard: (1, 3)), "nightly-1-of-3.xml"),
            try Self.document(
                Self.report([Self.refresh([Self.passed("t6")], result: .passed)], shard: (2, 3)), "nightly-2-of-3.xml"),
        ])
        let difference = ReportDiff(old: yesterday, new: tonight, shardOfTenant: TenantShard.index(of:count:))
        #expect(difference.fixed.map(\.name) == ["t4", "t6"])
        #expect(difference.notRun.map(\.name) == ["t1", "t1/u0/entra"])
        #expect(difference.notListed.isEmpty)
        #expect(difference.newFailures.isEmpty)
        #expect(difference.isWorse, "a shard without a report makes the run incomplete")
        let text = difference.text(limit: 10)
        #expect(text.contains("shard 3 of 3: not run tonight (no report file); its tenants fix nothing"), "\(text)")
        #expect(text.contains("not run tonight: 2"))
    }

    @Test func diffCallsAnOldFailureNotRunWhenItsShardRanButSkippedTheStage() throws {
        let yesterday = try ReportRun.combine([
            try Self.document(Self.report([Self.refresh([Self.failed("t6")])], runID: "20450", shard: nil), "old.xml")
        ])
        let skipped = StageReport(
            name: "refresh-tokens", kind: "refresh", startedAt: Self.start, duration: 0, result: .notRun,
            summary: "not run: stage rotate-keys failed and its on_failure is stop")
        let tonight = try ReportRun.combine([
            try Self.document(
                Self.report([Self.refresh([Self.passed("t4")], result: .passed)], shard: (1, 2)), "nightly-1-of-2.xml"),
            try Self.document(Self.report([skipped], shard: (2, 2)), "nightly-2-of-2.xml"),
        ])
        #expect(TenantShard.index(of: "t6", count: 2) == 2)
        let difference = ReportDiff(old: yesterday, new: tonight, shardOfTenant: TenantShard.index(of:count:))
        #expect(difference.fixed.isEmpty)
        #expect(difference.notRun.map(\.name) == ["t6"])
        #expect(!difference.isWorse)
    }
}

/// Report settings as the example nightly spec names them.
enum ReportSettingsFixture {
    static let settings = ReportSettings(
        junit: "./reports/nightly.xml", markdown: "./reports/nightly.md", json: "./reports/nightly.json",
        detail: .summary)
}

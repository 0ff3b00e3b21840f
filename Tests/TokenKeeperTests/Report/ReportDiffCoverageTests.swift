import Foundation
import Testing

@testable import Custody
@testable import Report

/// `report diff` calls an item fixed only when tonight's run covered it and passed it: a stage that did
/// not run tonight (`run --stage offboard`, or skipped after an earlier stage failed) fixes nothing.
@Suite struct ReportDiffCoverageTests {
    static let start = Date(timeIntervalSince1970: 1_795_000_000)

    static func refresh(_ cases: [CaseReport], result: StageReport.Result = .failed) -> StageReport {
        StageReport(
            name: "refresh-tokens", kind: "refresh", startedAt: start, duration: 1, result: result, summary: "refresh",
            cases: cases)
    }

    static let offboard = StageReport(
        name: "offboard", kind: "revoke", startedAt: start, duration: 1, result: .passed, summary: "done",
        cases: [CaseReport(name: "t1", status: .passed, message: "1 user revoked")])

    static let yesterday = [
        CaseReport(name: "t1", status: .failed, failureType: .reauthRequired, message: "1 refreshed, 2 failed"),
        CaseReport(
            name: "t1/u1/entra", status: .failed, failureType: .reauthRequired, code: "AADSTS700082", message: "dead"),
        CaseReport(
            name: "t1/u2/entra", status: .failed, failureType: .reauthRequired, code: "AADSTS700082", message: "dead"),
    ]

    static func document(_ stages: [StageReport], _ path: String) throws -> JUnitDocument {
        let report = RunReport(
            job: "nightly", runID: "run-\(path)", specPath: "/jobs/nightly.yml",
            specSHA256: String(repeating: "a", count: 64),
            dryRun: false, toolVersion: "0.1.0", principal: "pipeline", hostname: "agent", startedAt: start,
            duration: 2,
            stages: stages)
        return try JUnitDocument.parse(Data(JUnitReportWriter.xml(report).utf8), path: path)
    }

    @Test func aStageMissingTonightFixesNothingAndIsReportedAsNotRun() throws {
        let difference = ReportDiff(
            old: try Self.document([Self.refresh(Self.yesterday), Self.offboard], "old.xml"),
            new: try Self.document([Self.offboard], "new.xml"))
        #expect(difference.fixed.isEmpty)
        #expect(difference.notRun.map(\.name) == ["t1", "t1/u1/entra", "t1/u2/entra"])
        #expect(!difference.isWorse)
        let text = difference.text(limit: 10)
        #expect(text.contains("refresh-tokens: 0 passed, 3 failed, 0 skipped -> not run"), "\(text)")
        #expect(text.contains("fixed: 0"))
        #expect(text.contains("not run tonight: 3"))
    }

    @Test func aStageSkippedTonightAfterAnEarlierFailureFixesNothing() throws {
        let skipped = StageReport(
            name: "refresh-tokens", kind: "refresh", startedAt: Self.start, duration: 0, result: .notRun,
            summary: "not run: stage rotate-keys failed and its on_failure is stop")
        let difference = ReportDiff(
            old: try Self.document([Self.refresh(Self.yesterday)], "old.xml"),
            new: try Self.document([skipped], "new.xml"))
        #expect(difference.fixed.isEmpty)
        #expect(difference.notRun.count == 3)
        #expect(difference.text(limit: 10).contains("-> not run"))
    }

    @Test func anItemIsFixedOnlyWhenTonightsRunListsItAsPassed() throws {
        let tonight = [
            CaseReport(name: "t1", status: .passed, message: "3 refreshed"),
            CaseReport(name: "t1/u1/entra", status: .passed, message: "refreshed"),
        ]
        let difference = ReportDiff(
            old: try Self.document([Self.refresh(Self.yesterday)], "old.xml"),
            new: try Self.document([Self.refresh(tonight, result: .passed)], "new.xml"))
        #expect(difference.fixed.map(\.name) == ["t1", "t1/u1/entra"])
        // The stage ran, but tonight's report does not list u2 (summary reports count successes, and a row that
        // needs a sign-in is not due): that is not proof that it was fixed.
        #expect(difference.notListed.map(\.name) == ["t1/u2/entra"])
        #expect(difference.text(limit: 10).contains("not listed tonight: 1"))
    }

    @Test func diffOnTheCommandLineSaysNotRunAndDoesNotCallItFixed() throws {
        try withTemporaryDirectory { folder in
            let old = RunReport(
                job: "nightly", runID: "old", specPath: "/j.yml", specSHA256: "a", dryRun: false, toolVersion: "0.1.0",
                principal: "p", hostname: "h", startedAt: Self.start, duration: 1,
                stages: [Self.refresh(Self.yesterday), Self.offboard])
            var new = old
            new.runID = "new"
            new.stages = [Self.offboard]
            try ReportReviewTests.write(old, to: folder + "/old.xml")
            try ReportReviewTests.write(new, to: folder + "/new.xml")
            let result = try runTokenKeeper(["report", "diff", folder + "/old.xml", folder + "/new.xml"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("fixed: 0") && result.stdout.contains("-> not run"), "\(result.stdout)")
        }
    }
}

import Foundation
import Testing

@testable import Report
@testable import Support

@Suite struct ReportReviewTests {
    static func write(_ report: RunReport, to path: String) throws {
        try Data(JUnitReportWriter.xml(report).utf8).write(to: URL(fileURLWithPath: path))
    }

    @Test func readingBackAReportGivesEverySuiteCaseOutcomeAndProperty() throws {
        try withTemporaryDirectory { folder in
            try Self.write(ReportWriterTests.sampleReport(), to: folder + "/r.xml")
            let document = try JUnitDocument.read(path: folder + "/r.xml")
            #expect(document.runID == "20261124T030000Z-abcdef")
            #expect(document.suites.map(\.name) == ["rotate-keys", "refresh-tokens", "offboard"])
            let refresh = document.suites[1]
            #expect(refresh.counts.passed == 1 && refresh.counts.failed == 4 && refresh.counts.skipped == 1)
            #expect(refresh.cases[1].type == "reauth_required")
            #expect(refresh.cases[1].message == "invalid_grant: the refresh token expired <\"&'>")
            #expect(refresh.properties["count.tokens_refreshed"] == "10")
        }
    }

    @Test func showGroupsFailuresByTypeWithTheirItems() throws {
        try withTemporaryDirectory { folder in
            try Self.write(ReportWriterTests.sampleReport(failedItems: 30), to: folder + "/r.xml")
            let text = ReportSummary([try JUnitDocument.read(path: folder + "/r.xml")]).text(itemsPerType: 5)
            #expect(text.contains("run 20261124T030000Z-abcdef"))
            #expect(text.contains("  refresh-tokens: 1 passed, 31 failed, 1 skipped, 10.000 s"))
            #expect(text.contains("    reauth_required (30):"))
            #expect(text.contains("      contoso/user0/entra: invalid_grant"))
            #expect(text.contains("      … and 25 more"))
            #expect(text.contains("    policy_denied (1):"))
        }
    }

    @Test func anyJUnitFileIsReadEvenWithoutTokenkeeperProperties() throws {
        let xml = """
            <?xml version="1.0"?>
            <testsuite name="pytest" tests="3" failures="1" errors="0" skipped="1" time="0.5">
              <testcase classname="t" name="a" time="0.1"/>
              <testcase classname="t" name="b" time="0.1"><failure message="boom">trace</failure></testcase>
              <testcase classname="t" name="c" time="0.1"><skipped/></testcase>
            </testsuite>
            """
        let document = try JUnitDocument.parse(Data(xml.utf8), path: "pytest.xml")
        let summary = ReportSummary([document])
        #expect(summary.suites.first?.run == "pytest.xml")
        #expect(summary.suites.first?.failures["untyped"]?.map(\.name) == ["b"])
    }

    @Test func somethingThatIsNotJUnitIsAClearError() {
        let error = #expect(throws: JUnitReadError.self) {
            try JUnitDocument.parse(Data("<html><body/></html>".utf8), path: "page.html")
        }
        #expect(error?.description.contains("page.html: is not a readable JUnit report") == true)
        #expect(throws: JUnitReadError.self) {
            try JUnitDocument.parse(Data("<testsuites><testsuite".utf8), path: "cut.xml")
        }
    }

    @Test func diffSaysWhatIsNewlyFailingWhatWasFixedAndWhatStillFails() throws {
        var old = ReportWriterTests.sampleReport(failedItems: 3)
        var new = ReportWriterTests.sampleReport(failedItems: 3)
        old.stages[1].cases.removeAll { $0.name == "contoso/user2/entra" }
        // Tonight lists user0 as passed (detail: items), so it is fixed; an item tonight does not list is not (ReportDiffCoverageTests).
        new.stages[1].cases = new.stages[1].cases.map {
            $0.name == "contoso/user0/entra" ? CaseReport(name: $0.name, status: .passed, message: "refreshed") : $0
        }
        let difference = ReportDiff(
            old: try JUnitDocument.parse(Data(JUnitReportWriter.xml(old).utf8), path: "old.xml"),
            new: try JUnitDocument.parse(Data(JUnitReportWriter.xml(new).utf8), path: "new.xml"))
        #expect(difference.newFailures.map(\.name) == ["contoso/user2/entra"])
        #expect(difference.fixed.map(\.name) == ["contoso/user0/entra"])
        #expect(difference.stillFailing.map(\.name) == ["contoso/user1/entra", "fabrikam"])
        #expect(difference.isWorse)
        #expect(
            difference.text(limit: 10).contains(
                "new failures: 1\n  refresh-tokens contoso/user2/entra [reauth_required]"))
    }

    @Test func reportCommandsPrintTextMarkdownAndJSONAndDiffExitsOneOnARegression() throws {
        try withTemporaryDirectory { folder in
            try Self.write(ReportWriterTests.sampleReport(failedItems: 1), to: folder + "/old.xml")
            try Self.write(ReportWriterTests.sampleReport(failedItems: 2), to: folder + "/new.xml")
            let show = try runTokenKeeper(["report", "show", folder + "/old.xml", folder + "/new.xml"])
            #expect(show.status == 0)
            #expect(show.stdout.components(separatedBy: "run 20261124T030000Z-abcdef").count - 1 == 2)
            let markdown = try runTokenKeeper(["report", "show", folder + "/new.xml", "--format", "markdown"])
            #expect(markdown.stdout.hasPrefix("| Run | Stage | Passed | Failed | Skipped | Time (s) |"))
            let json = try runTokenKeeper(["report", "show", folder + "/new.xml", "--format", "json"])
            #expect(
                (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["suites"] != nil)
            let worse = try runTokenKeeper(["report", "diff", folder + "/old.xml", folder + "/new.xml"])
            #expect(worse.status == 1)
            #expect(worse.stdout.contains("new failures: 1"))
            let better = try runTokenKeeper(["report", "diff", folder + "/new.xml", folder + "/old.xml"])
            #expect(better.status == 0)
            // The old run (here the right-hand file) does not list user1 at all: not proven fixed.
            #expect(better.stdout.contains("fixed: 0") && better.stdout.contains("not listed tonight: 1"))
            let missing = try runTokenKeeper(["report", "show", folder + "/nope.xml"])
            #expect(missing.status != 0 && missing.stderr.contains("nope.xml"))
        }
    }
}

@Suite struct LargeReportTests {
    @Test func aReportOverTenMegabytesIsReadWhole() throws {
        let report = ReportWriterTests.sampleReport(failedItems: 100_000)
        let xml = JUnitReportWriter.xml(report)
        #expect(xml.utf8.count > 10_000_000)
        let document = try JUnitDocument.parse(Data(xml.utf8), path: "big.xml")
        #expect(document.suites.count == 3)
        #expect(document.suites[1].cases.count == 100_003)
        #expect(document.suites[1].counts.failed == 100_001)
    }
}

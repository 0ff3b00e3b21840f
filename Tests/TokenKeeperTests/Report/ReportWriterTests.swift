import Foundation
import Testing

@testable import Report

@Suite struct ReportWriterTests {
    /// A report with every kind of case: passed, failed (typed), errored, skipped, a stage not run, and
    /// names and messages full of characters XML and Markdown must escape.
    static func sampleReport(failedItems: Int = 3) -> RunReport {
        let start = Date(timeIntervalSince1970: 1_795_000_000)
        var refreshCases = [CaseReport(name: "contoso", status: .passed, message: "refreshed 10 tokens", duration: 1.5)]
        for index in 0..<failedItems {
            refreshCases.append(
                CaseReport(
                    name: "contoso/user\(index)/entra", status: .failed, failureType: .reauthRequired,
                    code: "AADSTS700082", message: "invalid_grant: the refresh token expired <\"&'>"))
        }
        refreshCases.append(
            CaseReport(
                name: "fabrikam", status: .errored, failureType: .policyDenied, message: "missing get\u{1}permission"))
        refreshCases.append(CaseReport(name: "x-tenant", status: .skipped, message: "x tokens do not expire"))
        return RunReport(
            job: "nightly", runID: "20261124T030000Z-abcdef", specPath: "/jobs/night|ly.yml",
            specSHA256: String(repeating: "a", count: 64),
            dryRun: false, toolVersion: "0.1.0", principal: "pipeline", hostname: "agent-1", startedAt: start,
            duration: 12.25,
            stages: [
                StageReport(
                    name: "rotate-keys", kind: "rotate", startedAt: start, duration: 2, result: .passed,
                    summary: "up to date",
                    counts: [Count("tenants", 2)],
                    cases: [CaseReport(name: "contoso", status: .passed, message: "up to date")],
                    log: ["contoso: up to date", "a <tag> & \"quote\""]),
                StageReport(
                    name: "refresh-tokens", kind: "refresh", startedAt: start.addingTimeInterval(2), duration: 10,
                    result: .failed,
                    summary: "\(failedItems) failed", counts: [Count("tokens_refreshed", 10)], cases: refreshCases),
                StageReport(
                    name: "offboard", kind: "revoke", startedAt: start.addingTimeInterval(12), duration: 0,
                    result: .notRun,
                    summary: "not run: stage refresh-tokens failed and its on_failure is stop"),
            ])
    }

    /// Validates `xml` against both JUnit schemas with xmlschema and reads it with junitparser.
    static func check(_ xml: String, in folder: String) throws -> [String: Any] {
        let path = folder + "/report.xml"
        try Data(xml.utf8).write(to: URL(fileURLWithPath: path))
        let result = try runPython([
            TestEnvironment.packageRoot + "/Tests/Tools/junit_check.py",
            "--xsd", try TestEnvironment.sharedFile("schemas/junit.xsd"),
            "--xsd", try TestEnvironment.sharedFile("schemas/junit-jenkins.xsd"), path,
        ])
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return try #require(object, "junit_check.py printed no JSON: \(result.stderr)")
    }

    @Test func junitValidatesAgainstBothSchemasAndJunitparserReadsTheRightCounts() throws {
        try withTemporaryDirectory { folder in
            let checked = try Self.check(JUnitReportWriter.xml(Self.sampleReport()), in: folder)
            #expect((checked["schema_errors"] as? [String]) == [])
            let suites = try #require(checked["suites"] as? [[String: Any]])
            #expect(suites.map { $0["name"] as? String } == ["rotate-keys", "refresh-tokens", "offboard"])
            let refresh = suites[1]
            #expect(refresh["tests"] as? Int == 6)
            #expect(refresh["failures"] as? Int == 3)
            #expect(refresh["errors"] as? Int == 1)
            #expect(refresh["skipped"] as? Int == 1)
            let cases = try #require(refresh["cases"] as? [[String: Any]])
            #expect(cases[1]["type"] as? String == "reauth_required")
            #expect(cases[1]["classname"] as? String == "tokenkeeper.nightly.refresh-tokens")
            #expect(cases[4]["type"] as? String == "policy_denied")
            let properties = try #require(refresh["properties"] as? [String: String])
            #expect(properties["run_id"] == "20261124T030000Z-abcdef")
            #expect(properties["dry_run"] == "false")
            #expect(properties["spec_sha256"] == String(repeating: "a", count: 64))
            #expect(properties["tokenkeeper_version"] == "0.1.0")
            #expect(properties["count.tokens_refreshed"] == "10")
            let notRun = suites[2]
            #expect(notRun["skipped"] as? Int == 1)
        }
    }

    @Test func junitTimestampHasNoZoneAndTimesAreNeverNegative() throws {
        var report = Self.sampleReport()
        // Clocks step back (NTP), so durations can come out negative; Azure DevOps aborts on a negative time.
        report.duration = -5
        report.stages[0].duration = -1
        report.stages[1].duration = -3
        report.stages[1].cases[0].duration = -2
        report.stages[0].cases[0].duration = -4
        let xml = JUnitReportWriter.xml(report)
        #expect(xml.contains("timestamp=\"2026-11-18T"))
        #expect(!xml.contains("Z\" hostname"))
        let times = xml.matches(of: /\stime="([^"]*)"/).map { String($0.1) }
        #expect(times.count == 3 + 8, "a time on every suite and every case: \(times)")
        for time in times { #expect(try #require(Double(time), "time=\"\(time)\"") >= 0, "time=\"\(time)\"") }
        #expect(!xml.contains("=\"-"))
    }

    @Test func controlCharactersAreReplacedSoTheXMLStaysWellFormed() {
        let xml = JUnitReportWriter.xml(Self.sampleReport())
        #expect(!xml.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
        #expect(xml.contains("missing get\u{FFFD}permission"))
        #expect(xml.contains("expired &lt;&quot;&amp;&apos;&gt;"))
    }

    @Test func aReportOfManyFailuresStaysValidAndFast() throws {
        try withTemporaryDirectory { folder in
            let report = Self.sampleReport(failedItems: 5_000)
            let started = Date()
            let xml = JUnitReportWriter.xml(report)
            #expect(Date().timeIntervalSince(started) < 10)
            let checked = try Self.check(xml, in: folder)
            #expect((checked["schema_errors"] as? [String]) == [])
            let suites = try #require(checked["suites"] as? [[String: Any]])
            #expect(suites[1]["failures"] as? Int == 5_000)
        }
    }

    @Test func markdownShowsOutcomeStageTableAndFailuresGroupedByType() {
        let markdown = MarkdownReportWriter.markdown(Self.sampleReport())
        #expect(markdown.hasPrefix("## tokenkeeper: nightly — ❌ 4 failed items"))
        #expect(markdown.contains("| refresh-tokens | refresh | ❌ failed | 1 | 4 | 1 |"))
        #expect(markdown.contains("| offboard | revoke | ⏭ not run |"))
        #expect(markdown.contains("**reauth_required** (3)"))
        #expect(markdown.contains("- `contoso/user0/entra` [`AADSTS700082`]: invalid_grant"))
        #expect(markdown.contains("Spec `/jobs/night\\|ly.yml`"))
    }

    @Test func markdownListsAtMostFiftyItemsPerTypeThenCountsTheRest() {
        let markdown = MarkdownReportWriter.markdown(Self.sampleReport(failedItems: 120))
        #expect(markdown.contains("- … and 70 more (see the JUnit report)"))
        #expect(markdown.components(separatedBy: "AADSTS700082").count - 1 == 50)
    }

    @Test func jsonRoundTripsEveryField() throws {
        let report = Self.sampleReport()
        let read = try JSONReportWriter.read(Data(try JSONReportWriter.json(report).utf8))
        #expect(read == report)
    }
}

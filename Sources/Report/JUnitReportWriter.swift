import Foundation
import Support

/// Writes a ``RunReport`` as JUnit XML in the Apache Ant format that Azure DevOps
/// (PublishTestResults@2), GitLab, GitHub test reporters and Jenkins read.
///
/// The output validates against the strict Ant schema (`../shared/schemas/junit.xsd`): a bare
/// `<testsuites>`, then per stage a `<testsuite>` with `package`, `id`, `name`, a zone-less UTC
/// `timestamp`, `hostname`, the counts and `time`; inside it `<properties>` first (run id, spec hash,
/// dry run, version, and `shard` and `shards` for one shard of a run), the testcases, then `<system-out>` (the stage's log) and `<system-err>`.
/// Failed cases carry `<failure type="...">` with a ``FailureType``; cases that could not run at all
/// carry `<error>`; stages that did not run are one skipped case.

public enum JUnitReportWriter {
    /// The XML document for `report`.
    public static func xml(_ report: RunReport) -> String {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
        xml.reserveCapacity(4_096 + report.stages.reduce(0) { $0 + $1.cases.count * 160 })
        for (index, stage) in report.stages.enumerated() {
            write(stage, id: index, of: report, into: &xml)
        }
        xml += "</testsuites>\n"
        return xml
    }

    /// The `classname` of a stage's cases: `tokenkeeper.JOB.STAGE`, so CI groups them by job and stage.
    public static func className(job: String, stage: String) -> String { "tokenkeeper.\(job).\(stage)" }

    private static func write(_ stage: StageReport, id: Int, of report: RunReport, into xml: inout String) {
        let cases =
            stage.result == .notRun && stage.cases.isEmpty
            ? [CaseReport(name: stage.name, status: .skipped, message: stage.summary)] : stage.cases
        let tally = CaseTally(cases)
        let name = XMLText.attribute(stage.name)
        xml +=
            "  <testsuite package=\"\(XMLText.attribute("tokenkeeper.\(report.job)"))\" id=\"\(id)\" name=\"\(name)\""
        xml +=
            " timestamp=\"\(DateText.junitTimestamp(stage.startedAt))\" hostname=\"\(XMLText.attribute(hostname(report)))\""
        xml +=
            " tests=\"\(tally.total)\" failures=\"\(tally.failed)\" errors=\"\(tally.errored)\" skipped=\"\(tally.skipped)\""
        xml += " time=\"\(DateText.seconds(stage.duration))\">\n"
        xml += "    <properties>\n"
        var properties: [(String, String)] = [
            ("run_id", report.runID), ("job", report.job), ("stage_kind", stage.kind),
            ("stage_result", stage.result.rawValue),
            ("spec", report.specPath), ("spec_sha256", report.specSHA256),
            ("dry_run", report.dryRun ? "true" : "false"),
            ("tokenkeeper_version", report.toolVersion), ("principal", report.principal),
        ]
        if let shard = report.shard {
            properties += [("shard", String(shard.index)), ("shards", String(shard.count))]
        }
        properties += stage.counts.map { ("count.\($0.name)", String($0.value)) }
        for (key, value) in properties {
            xml += "      <property name=\"\(XMLText.attribute(key))\" value=\"\(XMLText.attribute(value))\"/>\n"
        }
        xml += "    </properties>\n"
        let className = XMLText.attribute(className(job: report.job, stage: stage.name))
        for item in cases {
            xml +=
                "    <testcase name=\"\(XMLText.attribute(item.name))\" classname=\"\(className)\" time=\"\(DateText.seconds(item.duration))\""
            switch item.status {
            case .passed:
                xml += "/>\n"
            case .skipped:
                xml += ">\n      <skipped message=\"\(XMLText.attribute(item.message))\"/>\n    </testcase>\n"
            case .failed, .errored:
                let element = item.status == .failed ? "failure" : "error"
                let type = (item.failureType ?? .unexpected).rawValue
                var body = item.message
                if let code = item.code { body = "code: \(code)\n" + body }
                xml += ">\n      <\(element) type=\"\(type)\" message=\"\(XMLText.attribute(item.message))\">"
                xml += XMLText.escaped(body) + "</\(element)>\n    </testcase>\n"
            }
        }
        let out = ([stage.summary] + stage.log).joined(separator: "\n")
        xml += "    <system-out>\(XMLText.escaped(out))</system-out>\n"
        xml += "    <system-err></system-err>\n"
        xml += "  </testsuite>\n"
    }

    private static func hostname(_ report: RunReport) -> String {
        report.hostname.trimmingCharacters(in: .whitespaces).isEmpty ? "localhost" : report.hostname
    }
}

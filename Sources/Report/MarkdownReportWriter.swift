import Foundation
import Support

/// Writes a ``RunReport`` as Markdown for a CI summary page (Azure DevOps `task.uploadsummary`,
/// GitHub's `$GITHUB_STEP_SUMMARY`) or a merge request comment.
///
/// It shows the outcome first, one table row per stage, then the failures grouped by type with
/// their items, at most ``itemsPerType`` per type so the page stays readable at any scale.

public enum MarkdownReportWriter {
    /// How many failed items each failure type lists before "and N more".
    public static let itemsPerType = 50

    /// The Markdown document for `report`.
    public static func markdown(_ report: RunReport) -> String {
        var lines: [String] = []
        let failedItems = report.stages.reduce(0) { $0 + $1.tally.failed + $1.tally.errored }
        let outcome =
            failedItems > 0
            ? "❌ \(failedItems) failed item\(failedItems == 1 ? "" : "s")"
            : report.stages.contains { $0.result == .failed } ? "❌ failed" : "✅ passed"
        let shard = report.shard.map { ", shard \($0.index) of \($0.count)" } ?? ""
        lines.append("## tokenkeeper: \(cell(report.job))\(shard)\(report.dryRun ? " (dry run)" : "") — \(outcome)")
        lines.append("")
        lines.append(
            "Run `\(report.runID)` as `\(cell(report.principal))` on \(cell(report.hostname)), "
                + "\(DateText.timestamp(report.startedAt)), \(DateText.seconds(report.duration)) s. "
                + "Spec `\(cell(report.specPath))` (sha256 `\(report.specSHA256.prefix(12))…`), tokenkeeper \(report.toolVersion)."
        )
        if report.dryRun {
            lines.append(""); lines.append("_Dry run: nothing was changed; the table says what a real run would do._")
        }
        lines.append("")
        lines.append("| Stage | Kind | Result | Passed | Failed | Skipped | Time (s) | Summary |")
        lines.append("|---|---|---|---:|---:|---:|---:|---|")
        for stage in report.stages {
            let tally = stage.tally
            let result =
                switch stage.result {
                case .passed: "✅ passed"
                case .failed: "❌ failed"
                case .notRun: "⏭ not run"
                }
            lines.append(
                "| \(cell(stage.name)) | \(stage.kind) | \(result) | \(tally.passed) | \(tally.failed + tally.errored) | "
                    + "\(tally.skipped) | \(DateText.seconds(stage.duration)) | \(cell(stage.summary)) |")
        }
        for stage in report.stages {
            let failures = stage.cases.filter { $0.status == .failed || $0.status == .errored }
            guard !failures.isEmpty else { continue }
            lines.append("")
            lines.append("### Failures in \(cell(stage.name))")
            let groups = Dictionary(grouping: failures) { $0.failureType ?? .unexpected }
            for type in groups.keys.sorted() {
                let items = groups[type]!
                lines.append("")
                lines.append("**\(type.rawValue)** (\(items.count))")
                lines.append("")
                for item in items.prefix(itemsPerType) {
                    let code = item.code.map { " [`\($0)`]" } ?? ""
                    lines.append("- `\(cell(item.name))`\(code): \(cell(item.message))")
                }
                if items.count > itemsPerType {
                    lines.append("- … and \(items.count - itemsPerType) more (see the JUnit report)")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Text safe inside a table cell or inline code: no pipes, backticks or line breaks, and other
    /// control characters escaped.
    static func cell(_ text: String) -> String {
        DisplayText.escaped(
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "`", with: "'")
                .replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))
    }
}

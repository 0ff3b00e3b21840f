import Foundation
import Support

/// What `tokenkeeper report show` prints: per run and stage (suite), the counts, the failures grouped
/// by type with their items, and the durations.
public struct ReportSummary: Codable, Sendable, Equatable {
    /// One suite of one report.
    public struct Suite: Codable, Sendable, Equatable {
        public var file: String
        public var run: String
        public var suite: String
        public var passed: Int
        public var failed: Int
        public var skipped: Int
        public var seconds: Double
        /// Failed and errored items by failure type (`untyped` when the report gave none).
        public var failures: [String: [Item]]
    }

    /// One failed item.
    public struct Item: Codable, Sendable, Equatable {
        public var name: String
        public var message: String
    }

    public var suites: [Suite]

    /// Summarizes `documents`, in the order given.
    public init(_ documents: [JUnitDocument]) {
        suites = documents.flatMap { document in
            document.suites.map { suite in
                let counts = suite.counts
                var failures: [String: [Item]] = [:]
                for item in suite.cases where item.outcome == .failed || item.outcome == .errored {
                    failures[item.type ?? "untyped", default: []].append(Item(name: item.name, message: item.message ?? ""))
                }
                return Suite(file: document.path, run: document.runID ?? (document.path as NSString).lastPathComponent,
                             suite: suite.name, passed: counts.passed, failed: counts.failed, skipped: counts.skipped,
                             seconds: suite.time, failures: failures)
            }
        }
    }

    /// Plain text for a terminal, at most `itemsPerType` items per failure type.
    public func text(itemsPerType: Int) -> String {
        var lines: [String] = []
        var current: (run: String, file: String)?
        for suite in suites {
            if current?.run != suite.run || current?.file != suite.file {
                current = (suite.run, suite.file)
                if !lines.isEmpty { lines.append("") }
                lines.append("run \(suite.run) (\(suite.file))")
            }
            lines.append("  \(suite.suite): \(suite.passed) passed, \(suite.failed) failed, \(suite.skipped) skipped, \(DateText.seconds(suite.seconds)) s")
            for type in suite.failures.keys.sorted() {
                let items = suite.failures[type]!
                lines.append("    \(type) (\(items.count)):")
                for item in items.prefix(itemsPerType) {
                    lines.append("      \(item.name)" + (item.message.isEmpty ? "" : ": \(Self.oneLine(item.message))"))
                }
                if items.count > itemsPerType { lines.append("      … and \(CountText.number(items.count - itemsPerType)) more") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown for a CI summary page.
    public func markdown(itemsPerType: Int) -> String {
        var lines = ["| Run | Stage | Passed | Failed | Skipped | Time (s) |", "|---|---|---:|---:|---:|---:|"]
        for suite in suites {
            lines.append("| \(MarkdownReportWriter.cell(suite.run)) | \(MarkdownReportWriter.cell(suite.suite)) | \(suite.passed) | "
                         + "\(suite.failed) | \(suite.skipped) | \(DateText.seconds(suite.seconds)) |")
        }
        for suite in suites where !suite.failures.isEmpty {
            lines.append("")
            lines.append("### Failures in \(MarkdownReportWriter.cell(suite.suite)) (\(MarkdownReportWriter.cell(suite.run)))")
            for type in suite.failures.keys.sorted() {
                let items = suite.failures[type]!
                lines.append("")
                lines.append("**\(type)** (\(items.count))")
                lines.append("")
                for item in items.prefix(itemsPerType) {
                    lines.append("- `\(MarkdownReportWriter.cell(item.name))`" + (item.message.isEmpty ? "" : ": \(MarkdownReportWriter.cell(item.message))"))
                }
                if items.count > itemsPerType { lines.append("- … and \(items.count - itemsPerType) more") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func oneLine(_ text: String) -> String {
        let line = text.replacingOccurrences(of: "\n", with: " ")
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }
}

/// What `tokenkeeper report diff OLD NEW` prints: what got better or worse between two runs.
public struct ReportDiff: Codable, Sendable, Equatable {
    /// A failed item, with its stage and type.
    public struct Item: Codable, Sendable, Equatable, Hashable {
        public var suite: String
        public var name: String
        public var type: String
    }

    /// A stage's counts in both runs.
    public struct SuiteCounts: Codable, Sendable, Equatable {
        public var suite: String
        public var old: Counts?
        public var new: Counts?
    }

    /// Passed, failed, skipped.
    public struct Counts: Codable, Sendable, Equatable {
        public var passed: Int
        public var failed: Int
        public var skipped: Int
    }

    /// Items failing in the new run that did not fail in the old one.
    public var newFailures: [Item]
    /// Items that failed in the old run and do not fail in the new one.
    public var fixed: [Item]
    /// Items failing in both runs.
    public var stillFailing: [Item]
    /// Per stage, the counts of both runs.
    public var suites: [SuiteCounts]

    /// Compares two reports by stage (suite name) and item (case name).
    public init(old: JUnitDocument, new: JUnitDocument) {
        func failures(_ document: JUnitDocument) -> [String: Item] {
            var items: [String: Item] = [:]
            for suite in document.suites {
                for item in suite.cases where item.outcome == .failed || item.outcome == .errored {
                    items[suite.name + "\u{0}" + item.name] = Item(suite: suite.name, name: item.name, type: item.type ?? "untyped")
                }
            }
            return items
        }
        let before = failures(old), after = failures(new)
        let order: (Item, Item) -> Bool = { ($0.suite, $0.name) < ($1.suite, $1.name) }
        newFailures = after.filter { before[$0.key] == nil }.map(\.value).sorted(by: order)
        fixed = before.filter { after[$0.key] == nil }.map(\.value).sorted(by: order)
        stillFailing = after.filter { before[$0.key] != nil }.map(\.value).sorted(by: order)
        func counts(_ suite: JUnitSuite?) -> Counts? {
            suite.map { let c = $0.counts; return Counts(passed: c.passed, failed: c.failed, skipped: c.skipped) }
        }
        var names: [String] = []
        for suite in old.suites + new.suites where !names.contains(suite.name) { names.append(suite.name) }
        suites = names.map { name in
            SuiteCounts(suite: name, old: counts(old.suites.first { $0.name == name }), new: counts(new.suites.first { $0.name == name }))
        }
    }

    /// Whether the new run is worse: it has failures the old one did not.
    public var isWorse: Bool { !newFailures.isEmpty }

    /// Plain text, at most `limit` items per list.
    public func text(limit: Int) -> String {
        var lines: [String] = []
        for suite in suites {
            func show(_ counts: Counts?) -> String { counts.map { "\($0.passed) passed, \($0.failed) failed, \($0.skipped) skipped" } ?? "absent" }
            lines.append("\(suite.suite): \(show(suite.old)) -> \(show(suite.new))")
        }
        for (title, items) in [("new failures", newFailures), ("fixed", fixed), ("still failing", stillFailing)] {
            lines.append("\(title): \(items.count)")
            for item in items.prefix(limit) { lines.append("  \(item.suite) \(item.name) [\(item.type)]") }
            if items.count > limit { lines.append("  … and \(CountText.number(items.count - limit)) more") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown, at most `limit` items per list.
    public func markdown(limit: Int) -> String {
        var lines = ["| Stage | Old (passed/failed/skipped) | New (passed/failed/skipped) |", "|---|---|---|"]
        for suite in suites {
            func show(_ counts: Counts?) -> String { counts.map { "\($0.passed)/\($0.failed)/\($0.skipped)" } ?? "—" }
            lines.append("| \(MarkdownReportWriter.cell(suite.suite)) | \(show(suite.old)) | \(show(suite.new)) |")
        }
        for (title, items) in [("New failures", newFailures), ("Fixed", fixed), ("Still failing", stillFailing)] where !items.isEmpty {
            lines.append("")
            lines.append("**\(title)** (\(items.count))")
            lines.append("")
            for item in items.prefix(limit) { lines.append("- \(MarkdownReportWriter.cell(item.suite)): `\(MarkdownReportWriter.cell(item.name))` (\(item.type))") }
            if items.count > limit { lines.append("- … and \(items.count - limit) more") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

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
    /// Shards of a sharded run whose report file is missing: their tenants were not run.
    public var missingShards: [MissingShard] = []

    /// A shard without a report file.
    public struct MissingShard: Codable, Sendable, Equatable {
        public var run: String
        public var shard: Int
        public var shards: Int
    }

    /// Whether every shard of every sharded run has its report (`report show` exits 1 otherwise).
    public var isComplete: Bool { missingShards.isEmpty }

    /// Summarizes one run read from its shard files (``ReportRun``): per stage the totals of every
    /// shard, the failures of every shard, and the shards whose file is missing.
    public init(_ run: ReportRun) {
        self.init([run.merged])
        let name = run.runID ?? "unknown"
        for index in suites.indices { suites[index].run = name }
        if let count = run.shardCount {
            missingShards = run.missingShards.map { MissingShard(run: name, shard: $0, shards: count) }
        }
    }

    /// Summarizes `documents`, in the order given.
    public init(_ documents: [JUnitDocument]) {
        suites = documents.flatMap { document in
            document.suites.map { suite in
                let counts = suite.counts
                var failures: [String: [Item]] = [:]
                for item in suite.cases where item.outcome == .failed || item.outcome == .errored {
                    failures[item.type ?? "untyped", default: []].append(
                        Item(name: item.name, message: item.message ?? ""))
                }
                return Suite(
                    file: document.path, run: document.runID ?? (document.path as NSString).lastPathComponent,
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
                lines.append("run \(DisplayText.escaped(suite.run)) (\(DisplayText.escaped(suite.file)))")
            }
            lines.append(
                "  \(DisplayText.escaped(suite.suite)): \(suite.passed) passed, \(suite.failed) failed, \(suite.skipped) skipped, \(DateText.seconds(suite.seconds)) s"
            )
            for type in suite.failures.keys.sorted() {
                let items = suite.failures[type]!
                lines.append("    \(DisplayText.escaped(type)) (\(items.count)):")
                for item in items.prefix(itemsPerType) {
                    lines.append(
                        "      \(DisplayText.escaped(item.name))"
                            + (item.message.isEmpty ? "" : ": \(Self.oneLine(item.message))"))
                }
                if items.count > itemsPerType {
                    lines.append("      … and \(CountText.number(items.count - itemsPerType)) more")
                }
            }
        }
        if suites.isEmpty, let first = missingShards.first { lines.append("run \(DisplayText.escaped(first.run))") }
        for missing in missingShards {
            lines.append("  shard \(missing.shard) of \(missing.shards): not run (no report file)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown for a CI summary page.
    public func markdown(itemsPerType: Int) -> String {
        var lines = ["| Run | Stage | Passed | Failed | Skipped | Time (s) |", "|---|---|---:|---:|---:|---:|"]
        for suite in suites {
            lines.append(
                "| \(MarkdownReportWriter.cell(suite.run)) | \(MarkdownReportWriter.cell(suite.suite)) | \(suite.passed) | "
                    + "\(suite.failed) | \(suite.skipped) | \(DateText.seconds(suite.seconds)) |")
        }
        for missing in missingShards {
            lines.append(
                "| \(MarkdownReportWriter.cell(missing.run)) | shard \(missing.shard) of \(missing.shards): "
                    + "**not run** (no report file) | | | | |")
        }
        for suite in suites where !suite.failures.isEmpty {
            lines.append("")
            lines.append(
                "### Failures in \(MarkdownReportWriter.cell(suite.suite)) (\(MarkdownReportWriter.cell(suite.run)))")
            for type in suite.failures.keys.sorted() {
                let items = suite.failures[type]!
                lines.append("")
                lines.append("**\(MarkdownReportWriter.cell(type))** (\(items.count))")
                lines.append("")
                for item in items.prefix(itemsPerType) {
                    lines.append(
                        "- `\(MarkdownReportWriter.cell(item.name))`"
                            + (item.message.isEmpty ? "" : ": \(MarkdownReportWriter.cell(item.message))"))
                }
                if items.count > itemsPerType { lines.append("- … and \(items.count - itemsPerType) more") }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A message on one line: line breaks as spaces, other control characters escaped, at most 200 characters.
    static func oneLine(_ text: String) -> String {
        let line = DisplayText.escaped(
            text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))
        return line.count > 200 ? String(line.prefix(199)) + "…" : line
    }
}

/// What `tokenkeeper report diff OLD NEW` prints: what got better or worse between two runs.
///
/// An old failure counts as fixed only when the new run covered it and passed it: its stage ran in the
/// new run and lists the item as passed. A stage missing from the new run, or skipped there (not run
/// after an earlier stage failed), fixes nothing: its old failures are listed as not run. A stage that
/// ran but does not list the item (summary reports count successes instead of listing them, and a
/// token that needs a sign-in is not due) leaves the item "not listed": not proven fixed.
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
        /// The old run's counts; nil when the stage did not run then.
        public var old: Counts?
        /// The new run's counts; nil when the stage did not run (missing, or reported not run).
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
    /// Items that failed in the old run and that the new run lists as passed.
    public var fixed: [Item]
    /// Items failing in both runs.
    public var stillFailing: [Item]
    /// Old failures whose stage did not run in the new run (or that the new run skipped): nothing is known.
    public var notRun: [Item]
    /// Old failures of a stage that ran in the new run but does not list them: not proven fixed.
    public var notListed: [Item]
    /// Per stage, the counts of both runs.
    public var suites: [SuiteCounts]
    /// Shards of the new run whose report file is missing: their tenants were not run tonight.
    public var missingShards: [Int] = []
    /// N of the new run, when it was sharded.
    public var shards: Int?

    /// Compares two reports by stage (suite name) and item (case name).
    public init(old: JUnitDocument, new: JUnitDocument) {
        self.init(old: old, new: new, covers: { _, _ in true })
    }

    /// Compares two runs read from their files (one file each, or each run's shard files). An old
    /// failure whose tenant falls in a shard that has no file tonight (or whose stage did not run in
    /// that shard) is not run, never fixed. `shardOfTenant(tenant, N)` is the job's stable tenant hash.
    public init(old: ReportRun, new: ReportRun, shardOfTenant: (String, Int) -> Int) {
        self.init(
            old: old.merged, new: new.merged,
            covers: { new.covers(stage: $0, item: $1, shardOfTenant: shardOfTenant) })
        missingShards = new.missingShards
        shards = new.shardCount
    }

    /// The comparison; `covers(stage, item)` says whether the new run covered the item at all.
    private init(old: JUnitDocument, new: JUnitDocument, covers: (String, String) -> Bool) {
        func key(_ suite: String, _ name: String) -> String { suite + "\u{0}" + name }
        func failures(_ document: JUnitDocument) -> [String: Item] {
            var items: [String: Item] = [:]
            for suite in document.suites {
                for item in suite.cases where item.outcome == .failed || item.outcome == .errored {
                    items[key(suite.name, item.name)] = Item(
                        suite: suite.name, name: item.name, type: item.type ?? "untyped")
                }
            }
            return items
        }
        var newOutcomes: [String: JUnitCase.Outcome] = [:]
        var ranTonight: Set<String> = []
        for suite in new.suites where Self.ran(suite) {
            ranTonight.insert(suite.name)
            for item in suite.cases { newOutcomes[key(suite.name, item.name)] = item.outcome }
        }
        let before = failures(old), after = failures(new)
        let order: (Item, Item) -> Bool = { ($0.suite, $0.name) < ($1.suite, $1.name) }
        newFailures = after.filter { before[$0.key] == nil }.map(\.value).sorted(by: order)
        stillFailing = after.filter { before[$0.key] != nil }.map(\.value).sorted(by: order)
        var fixed: [Item] = [], notRun: [Item] = [], notListed: [Item] = []
        for (itemKey, item) in before where after[itemKey] == nil {
            guard ranTonight.contains(item.suite), covers(item.suite, item.name) else {
                notRun.append(item)
                continue
            }
            switch newOutcomes[itemKey] {
            case .passed?: fixed.append(item)
            case .skipped?: notRun.append(item)
            default: notListed.append(item)
            }
        }
        self.fixed = fixed.sorted(by: order)
        self.notRun = notRun.sorted(by: order)
        self.notListed = notListed.sorted(by: order)
        func counts(_ suite: JUnitSuite?) -> Counts? {
            guard let suite, Self.ran(suite) else { return nil }
            let c = suite.counts
            return Counts(passed: c.passed, failed: c.failed, skipped: c.skipped)
        }
        var names: [String] = []
        for suite in old.suites + new.suites where !names.contains(suite.name) { names.append(suite.name) }
        suites = names.map { name in
            SuiteCounts(
                suite: name, old: counts(old.suites.first { $0.name == name }),
                new: counts(new.suites.first { $0.name == name }))
        }
    }

    /// Whether a suite's stage ran: tokenkeeper says so in its `stage_result` property; for other tools'
    /// reports, a suite whose every case was skipped did not run.
    static func ran(_ suite: JUnitSuite) -> Bool {
        if let result = suite.properties["stage_result"] { return result != StageReport.Result.notRun.rawValue }
        return suite.cases.isEmpty || suite.cases.contains { $0.outcome != .skipped }
    }

    /// Whether the new run is worse: it has failures the old one did not, or a shard of it has no report.
    public var isWorse: Bool { !newFailures.isEmpty || !missingShards.isEmpty }

    /// The lists, in the order they are printed, with their titles.
    private var lists: [(title: String, items: [Item])] {
        [
            ("new failures", newFailures), ("fixed", fixed), ("still failing", stillFailing),
            ("not run tonight", notRun),
            ("not listed tonight", notListed),
        ]
    }

    /// Plain text, at most `limit` items per list.
    public func text(limit: Int) -> String {
        var lines: [String] = []
        for suite in suites {
            func show(_ counts: Counts?) -> String {
                counts.map { "\($0.passed) passed, \($0.failed) failed, \($0.skipped) skipped" } ?? "not run"
            }
            lines.append("\(DisplayText.escaped(suite.suite)): \(show(suite.old)) -> \(show(suite.new))")
        }
        for shard in missingShards {
            lines.append("shard \(shard) of \(shards ?? 0): not run tonight (no report file); its tenants fix nothing")
        }
        for (title, items) in lists where !items.isEmpty || ["new failures", "fixed", "still failing"].contains(title) {
            lines.append("\(title): \(items.count)")
            for item in items.prefix(limit) {
                lines.append(
                    "  \(DisplayText.escaped(item.suite)) \(DisplayText.escaped(item.name)) [\(DisplayText.escaped(item.type))]"
                )
            }
            if items.count > limit { lines.append("  … and \(CountText.number(items.count - limit)) more") }
        }
        if !notListed.isEmpty {
            lines.append(
                "(not listed: their stage ran but its report does not list them as passed; successes are counted, not listed, "
                    + "unless the spec says detail: items)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Markdown, at most `limit` items per list.
    public func markdown(limit: Int) -> String {
        var lines = ["| Stage | Old (passed/failed/skipped) | New (passed/failed/skipped) |", "|---|---|---|"]
        for suite in suites {
            func show(_ counts: Counts?) -> String {
                counts.map { "\($0.passed)/\($0.failed)/\($0.skipped)" } ?? "not run"
            }
            lines.append("| \(MarkdownReportWriter.cell(suite.suite)) | \(show(suite.old)) | \(show(suite.new)) |")
        }
        for shard in missingShards {
            lines.append("| shard \(shard) of \(shards ?? 0) | | **not run** (no report file) |")
        }
        for (title, items) in lists where !items.isEmpty {
            lines.append("")
            lines.append("**\(title.prefix(1).uppercased() + title.dropFirst())** (\(items.count))")
            lines.append("")
            for item in items.prefix(limit) {
                lines.append(
                    "- \(MarkdownReportWriter.cell(item.suite)): `\(MarkdownReportWriter.cell(item.name))` (\(MarkdownReportWriter.cell(item.type)))"
                )
            }
            if items.count > limit { lines.append("- … and \(items.count - limit) more") }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

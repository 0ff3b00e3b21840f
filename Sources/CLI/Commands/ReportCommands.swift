import Custody
import Foundation
import Report
import Support

/// `tokenkeeper report show` and `report diff`: reviewing what jobs did, from their JUnit reports.

package enum ReportCommands {
    /// The `report` group.
    package static var group: Command {
        Command(
            "report", abstract: "Review JUnit reports: what a run did, and what changed between two runs.",
            discussion: """
                Both commands read tokenkeeper's own reports and any other JUnit XML file (Ant format), with a
                streaming parser: a report of 100,000 testcases is read in well under a second. Reading takes time linear
                in the file's size: a file with an element of more than 256 attributes, or with a DOCTYPE, is refused.
                """,
            subcommands: [show, diff])
    }

    static let formatOption = OptionSpec.value("format", "FORMAT", "text (default), markdown or json.")
    static let itemsOption = OptionSpec.value(
        "items", "N", "How many items to list per failure type or list (default 20).")

    static let shardsOption = OptionSpec.value(
        "shards", "N", "The run has N shards: refuse files of a run with another number, and name every missing one.")

    static let show = Command(
        "show", abstract: "Per run and stage: passed, failed and skipped counts, failures by type, durations.",
        usage: "FILE|FOLDER... [--shards N] [--format text|markdown|json] [--items N]",
        discussion: """
            Reads one or more JUnit reports (a folder: every .xml file in it and its subfolders) and prints each run's stages with their
            counts, then the failed items grouped by type. The N files of a sharded run (NAME-K-of-N.xml, sharing one
            run id) are shown as one run: per stage the totals of every shard, the failures of every shard, and each
            shard whose file is missing as not run. Shard files of different runs given together are refused (exit
            code 2). Exit code 1 when a shard's report is missing (a pipeline's fan-in step fails on it), else 0.
            """,
        options: [formatOption, itemsOption, shardsOption], positionals: 1...10_000
    ) { invocation in
        let format = try invocation.choice("format", ["text", "markdown", "json"], default: "text")
        let items = try invocation.integer("items", default: 20, in: 0...1_000_000)
        let expected = try invocation.value("shards").map { _ in
            try invocation.integer("shards", default: 1, in: 1...TenantShard.maximumCount)
        }
        let documents = try JUnitDocument.read(
            paths: try ReportPaths.expand(invocation.positionals, command: invocation))
        let summary =
            expected == nil && documents.allSatisfy({ $0.shard == nil })
            ? ReportSummary(documents) : ReportSummary(try ReportRun.combine(documents, expectedShards: expected))
        switch format {
        case "json": invocation.console.out(try JSONText.encode(summary))
        case "markdown": invocation.console.out(String(summary.markdown(itemsPerType: items).dropLast()))
        default: invocation.console.out(String(summary.text(itemsPerType: items).dropLast()))
        }
        if !summary.isComplete {
            invocation.console.err(
                "tokenkeeper: \(CountText.of(summary.missingShards.count, "shard")) of the run left no report: "
                    + "its tenants were not run. See the shard's CI job log.")
            return .itemsFailed
        }
        return .success
    }

    static let diff = Command(
        "diff", abstract: "What got better or worse between two runs: new failures, fixed items, counts.",
        usage: "OLD NEW | --before FILE|FOLDER... --after FILE|FOLDER... [--format text|markdown|json] [--items N]",
        discussion: """
            Compares two JUnit reports stage by stage (suite name) and item by item (case name). An old failure is fixed
            only when the new run covered it and passed it (its stage ran and lists the item as passed); failures of a
            stage that did not run in the new run are listed as not run, and those its report does not list as not listed.
            A sharded run is compared as one run: give each run's shard files (or their folder) with --before and --after,
            each repeated as needed; files of different runs on one side are refused (exit code 2). An old failure whose
            tenant falls in a shard that has no report tonight is not run, never fixed.
            Exit code 0 when the new run has no failure the old one did not have, 1 when it has or when a shard of the
            new run left no report (so a pipeline can flag a regression).
            """,
        options: [
            formatOption, itemsOption,
            .value(
                "before", "FILE", "A report file (or folder of them) of the old run; repeat for each shard.",
                repeatable: true),
            .value(
                "after", "FILE", "A report file (or folder of them) of the new run; repeat for each shard.",
                repeatable: true),
        ],
        positionals: 0...2
    ) { invocation in
        let format = try invocation.choice("format", ["text", "markdown", "json"], default: "text")
        let items = try invocation.integer("items", default: 20, in: 0...1_000_000)
        let before = invocation.allValues("before"), after = invocation.allValues("after")
        let sides: (old: [String], new: [String])
        switch (invocation.positionals.count, before.isEmpty, after.isEmpty) {
        case (2, true, true): sides = ([invocation.positionals[0]], [invocation.positionals[1]])
        case (0, false, false): sides = (before, after)
        default:
            throw UsageError(
                command: invocation.path, problem: "give two report files, or --before and --after (not both forms)",
                remedy:
                    "Write report diff OLD.xml NEW.xml, or report diff --before OLD... --after NEW... for sharded runs."
            )
        }
        let old = try ReportRun.combine(
            try JUnitDocument.read(paths: try ReportPaths.expand(sides.old, command: invocation)))
        let new = try ReportRun.combine(
            try JUnitDocument.read(paths: try ReportPaths.expand(sides.new, command: invocation)))
        let difference = ReportDiff(old: old, new: new, shardOfTenant: TenantShard.index(of:count:))
        switch format {
        case "json": invocation.console.out(try JSONText.encode(difference))
        case "markdown": invocation.console.out(String(difference.markdown(limit: items).dropLast()))
        default: invocation.console.out(String(difference.text(limit: items).dropLast()))
        }
        return difference.isWorse ? .itemsFailed : .success
    }
}

/// The report files a command line names: files as given, and for a folder every `.xml` file in it
/// and in its subfolders.
enum ReportPaths {
    /// `paths` with each folder replaced by the `.xml` files in it and its subfolders, sorted by path.
    /// - throws: ``UsageError`` for a folder that holds no `.xml` file.
    static func expand(_ paths: [String], command invocation: Invocation) throws -> [String] {
        var files: [String] = []
        for path in paths {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), isFolder.boolValue else {
                files.append(path)
                continue
            }
            // Its subfolders too: CI downloads each shard's artifact into a folder of its own.
            let names = ((try? FileManager.default.subpathsOfDirectory(atPath: path)) ?? [])
                .filter { $0.hasSuffix(".xml") }.sorted()
            guard !names.isEmpty else {
                throw UsageError(
                    command: invocation.path, problem: "the folder \(DisplayText.escaped(path)) holds no .xml report",
                    remedy: "Give the folder the CI downloaded the run's JUnit files into, or the files themselves.")
            }
            files += names.map { (path as NSString).appendingPathComponent($0) }
        }
        return files
    }
}

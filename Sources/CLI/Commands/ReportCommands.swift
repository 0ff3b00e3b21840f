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

    static let show = Command(
        "show", abstract: "Per run and stage: passed, failed and skipped counts, failures by type, durations.",
        usage: "FILE... [--format text|markdown|json] [--items N]",
        discussion:
            "Reads one or more JUnit reports and prints each run's stages with their counts, then the failed items grouped by type.",
        options: [formatOption, itemsOption], positionals: 1...10_000
    ) { invocation in
        let format = try invocation.choice("format", ["text", "markdown", "json"], default: "text")
        let items = try invocation.integer("items", default: 20, in: 0...1_000_000)
        let summary = ReportSummary(try JUnitDocument.read(paths: invocation.positionals))
        switch format {
        case "json": invocation.console.out(try JSONText.encode(summary))
        case "markdown": invocation.console.out(String(summary.markdown(itemsPerType: items).dropLast()))
        default: invocation.console.out(String(summary.text(itemsPerType: items).dropLast()))
        }
        return .success
    }

    static let diff = Command(
        "diff", abstract: "What got better or worse between two runs: new failures, fixed items, counts.",
        usage: "OLD NEW [--format text|markdown|json] [--items N]",
        discussion: """
            Compares two JUnit reports stage by stage (suite name) and item by item (case name). An old failure is fixed
            only when the new run covered it and passed it (its stage ran and lists the item as passed); failures of a
            stage that did not run in the new run are listed as not run, and those its report does not list as not listed.
            Exit code 0 when the new run has no failure the old one did not have, 1 when it has (so a pipeline can flag a
            regression).
            """,
        options: [formatOption, itemsOption], positionals: 2...2
    ) { invocation in
        let format = try invocation.choice("format", ["text", "markdown", "json"], default: "text")
        let items = try invocation.integer("items", default: 20, in: 0...1_000_000)
        let documents = try JUnitDocument.read(paths: invocation.positionals)
        let difference = ReportDiff(old: documents[0], new: documents[1])
        switch format {
        case "json": invocation.console.out(try JSONText.encode(difference))
        case "markdown": invocation.console.out(String(difference.markdown(limit: items).dropLast()))
        default: invocation.console.out(String(difference.text(limit: items).dropLast()))
        }
        return difference.isWorse ? .itemsFailed : .success
    }
}

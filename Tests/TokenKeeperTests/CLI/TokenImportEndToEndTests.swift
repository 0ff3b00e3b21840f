import Foundation
import Testing

@testable import Custody
@testable import Support

/// `tokenkeeper token import` of an input larger than one read: every line is stored (in batched
/// transactions), and importing it again updates every row.
@Suite struct TokenImportEndToEndTests {
    @Test func aLargeJSONLinesFileIsImportedAndAgainUpdated() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            var lines = TokenImportStreamTests.responses(2_500)
            lines[1_234] = #"{"error":"invalid_grant"}"#
            try Data(lines.joined(separator: "\n").utf8).write(to: URL(fileURLWithPath: folder + "/responses.jsonl"))
            let first = try workspace.run(["token", "import", folder + "/responses.jsonl", "--provider", "entra"])
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stdout.contains("added 2499, updated 0, skipped 1, failed 0"), "\(first.stdout)")
            #expect(first.stderr.contains("line 1235: skipped"))
            let again = try workspace.run(["token", "import", folder + "/responses.jsonl", "--provider", "entra"])
            #expect(again.stdout.contains("added 0, updated 2499, skipped 1, failed 0"), "\(again.stdout)")
            // No refresh token of the input reaches what either import printed.
            #expect(!first.output.contains("rt-") && !again.output.contains("rt-"))
            let show = try workspace.run([
                "token", "show", "--tenant", "t1", "--user", "u2499", "--provider", "entra", "--reveal",
            ])
            #expect(show.stdout.hasSuffix("rt-2499\n"))
        }
    }
}

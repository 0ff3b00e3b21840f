import Foundation
import Testing

@testable import Report
@testable import Support

/// `--shard K/N` and `--run-id` on the command line, on the example nightly job (embedded SQLite
/// state): a run that changes state is refused there; plans and dry runs preview a shard; the shard
/// reports of a run read back as one run. contoso-0001 falls in shard 2 of 2, fabrikam-0002 in shard 1.
@Suite struct ShardCommandsEndToEndTests {
    typealias Workspace = JobCommandsEndToEndTests.NightlyWorkspace

    @Test func aShardedRunOnTheEmbeddedStoreIsRefusedNamingTheOptionAndTheFix() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let before = try JobFixture.snapshot(of: folder + "/state")
            let result = try workspace.run(["run", "nightly.yml", "--shard", "1/2", "--run-id", "20451"])
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("--shard 1/2: a sharded run needs PostgreSQL state"), "\(result.stderr)")
            #expect(result.stderr.contains("move its state to PostgreSQL"))
            #expect(result.stderr.contains("README section \"Shards\""))
            #expect(try JobFixture.snapshot(of: folder + "/state") == before)
            #expect(!PrivateFiles.exists(folder + "/reports"))
        }
    }

    @Test func oneShardOfOneIsTheWholeJobAndRunsOnTheEmbeddedStore() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let result = try workspace.run(["run", "nightly.yml", "--shard", "1/1", "--run-id", "20451"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("run 20451: passed"))
            #expect(PrivateFiles.exists(folder + "/reports/nightly.xml"))
        }
    }

    @Test func aShardThatIsNotKOfNOrARunIDThatIsNotAPlainNameIsBadUsage() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            for shard in ["3/2", "0/2", "2", "a/b"] {
                let result = try workspace.run(["plan", "nightly.yml", "--shard", shard])
                #expect(result.status == 2, "\(shard): \(result.stderr)")
                #expect(result.stderr.contains("--shard '\(shard)' is not K/N"))
                #expect(result.stderr.contains("1 <= K <= N"))
            }
            let badID = try workspace.run(["run", "nightly.yml", "--dry-run", "--run-id", "../20451"])
            #expect(badID.status == 2, "\(badID.stderr)")
            #expect(badID.stderr.contains("--run-id: the run id is not a plain name"))
        }
    }

    @Test func planPreviewsOneShardOnTheEmbeddedStoreAndChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let before = try JobFixture.snapshot(of: folder + "/state")
            let plan = try workspace.run(["plan", "nightly.yml", "--shard", "2/2"])
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains("Plan for job nightly, shard 2 of 2: only its tenants"), "\(plan.stdout)")
            #expect(plan.stdout.contains("contoso-0001"))
            #expect(!plan.stdout.contains("fabrikam-0002"))
            #expect(try JobFixture.snapshot(of: folder + "/state") == before)
        }
    }

    @Test func dryRunsOfTheShardsWriteKOfNReportsThatValidateAndReadBackAsOneRun() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            for shard in ["1/2", "2/2"] {
                let result = try workspace.run([
                    "run", "nightly.yml", "--dry-run", "--shard", shard, "--run-id", "20451",
                ])
                #expect(result.status == 0, "\(result.stderr)")
            }
            let first = folder + "/reports/nightly-1-of-2.xml", second = folder + "/reports/nightly-2-of-2.xml"
            #expect(PrivateFiles.exists(folder + "/reports/nightly-2-of-2.md"))
            #expect(!PrivateFiles.exists(folder + "/reports/nightly.xml"))
            let checked = try ReportWriterTests.check(try String(contentsOfFile: second, encoding: .utf8), in: folder)
            #expect((checked["schema_errors"] as? [String]) == [])
            let suites = try #require(checked["suites"] as? [[String: Any]])
            let properties = try #require(suites.first?["properties"] as? [String: String])
            #expect(properties["shard"] == "2" && properties["shards"] == "2" && properties["run_id"] == "20451")
            let show = try workspace.run(["report", "show", first, second])
            #expect(show.status == 0, "\(show.stderr)")
            #expect(show.stdout.hasPrefix("run 20451 ("), "\(show.stdout)")
            #expect(show.stdout.contains("offboard: 2 passed, 0 failed, 0 skipped"), "\(show.stdout)")
            // A shard whose report is missing: shown as not run, and the fan-in step fails.
            let missing = try workspace.run(["report", "show", first])
            #expect(missing.status == 1)
            #expect(missing.stdout.contains("shard 2 of 2: not run (no report file)"), "\(missing.stdout)")
            #expect(missing.stderr.contains("1 shard of the run left no report"))
            // With --shards, even a run whose every shard left no report but one is named in full.
            let expected = try workspace.run(["report", "show", folder + "/reports", "--shards", "2"])
            #expect(expected.status == 0, "\(expected.stderr)")
            // A folder of the shards' artifact folders, as CI downloads them.
            for (index, file) in [first, second].enumerated() {
                try PrivateFiles.createPrivateDirectory(folder + "/artifacts/tokenkeeper-reports-\(index + 1)")
                try FileManager.default.copyItem(
                    atPath: file,
                    toPath: folder + "/artifacts/tokenkeeper-reports-\(index + 1)/"
                        + (file as NSString).lastPathComponent)
            }
            let artifacts = try workspace.run(["report", "show", folder + "/artifacts", "--shards", "2"])
            #expect(artifacts.status == 0, "\(artifacts.stderr)")
            #expect(artifacts.stdout.contains("offboard: 2 passed, 0 failed, 0 skipped"), "\(artifacts.stdout)")
            let wrong = try workspace.run(["report", "show", first, second, "--shards", "3"])
            #expect(wrong.status == 2)
            #expect(wrong.stderr.contains("3 shards expected, but the files are of a run of 2 shards"))
        }
    }

    @Test func shardFilesOfDifferentRunsAreRefused() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            try workspace.run(["run", "nightly.yml", "--dry-run", "--shard", "1/2", "--run-id", "20451"])
            try workspace.run([
                "run", "nightly.yml", "--dry-run", "--shard", "2/2", "--run-id", "20452", "--report-dir", "other",
            ])
            let show = try workspace.run([
                "report", "show", folder + "/reports/nightly-1-of-2.xml", folder + "/other/nightly-2-of-2.xml",
            ])
            #expect(show.status == 2)
            #expect(show.stderr.contains("the files are of different runs"), "\(show.stderr)")
            #expect(show.stderr.contains("nightly-1-of-2.xml (run 20451), nightly-2-of-2.xml (run 20452)"))
        }
    }

    @Test func diffTakesEachRunsShardFilesOrFolderWithBeforeAndAfterAndFailsWhenAShardIsMissingTonight() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            try workspace.run(["run", "nightly.yml", "--dry-run", "--run-id", "20450", "--report-dir", "before"])
            for shard in ["1/2", "2/2"] {
                try workspace.run([
                    "run", "nightly.yml", "--dry-run", "--shard", shard, "--run-id", "20451", "--report-dir", "after",
                ])
            }
            let complete = try workspace.run(["report", "diff", "--before", "before", "--after", "after"])
            #expect(complete.status == 0, "\(complete.stdout)\(complete.stderr)")
            #expect(
                complete.stdout.contains("offboard: 2 passed, 0 failed, 0 skipped -> 2 passed, 0 failed, 0 skipped"))
            let partial = try workspace.run([
                "report", "diff", "--before", "before/nightly.xml", "--after", "after/nightly-1-of-2.xml",
            ])
            #expect(partial.status == 1, "\(partial.stderr)")
            #expect(partial.stdout.contains("shard 2 of 2: not run tonight (no report file)"), "\(partial.stdout)")
            let mixed = try workspace.run([
                "report", "diff", "--before", "before/nightly.xml", "--after", "after/nightly-1-of-2.xml",
                "--after", "before/nightly.xml",
            ])
            #expect(mixed.status == 2)
            #expect(mixed.stderr.contains("the files are of different runs"), "\(mixed.stderr)")
            let bothForms = try workspace.run(["report", "diff", "before/nightly.xml", "--after", "after"])
            #expect(bothForms.status == 2)
            #expect(bothForms.stderr.contains("give two report files, or --before and --after"))
        }
    }
}

import Foundation
import Testing

@testable import CLI
@testable import Report

/// The pipelines in `pipelines/`: valid for their CI (by the public schemas where there is one), and
/// every tokenkeeper command line in them is one the current command line accepts.
@Suite struct PipelineTests {
    struct Checked {
        var schemaErrors: [String]
        var commands: [[String]]
        var text: String
    }

    /// Checks `pipelines/NAME` against `schema`: a file in `shared/schemas/`, or one in `Tests/Fixtures/schemas/`.
    static func check(_ name: String, schema: String?) throws -> Checked {
        let path = TestEnvironment.packageRoot + "/pipelines/" + name
        let argument = try schema.map { path + "=" + (try Self.schemaFile($0)) } ?? path
        let result = try runPython([TestEnvironment.packageRoot + "/Tests/Tools/pipeline_check.py", argument])
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stderr)")
        return Checked(
            schemaErrors: object["schema_errors"] as? [String] ?? ["no schema_errors"],
            commands: object["commands"] as? [[String]] ?? [], text: try String(contentsOfFile: path, encoding: .utf8))
    }

    static func schemaFile(_ name: String) throws -> String {
        let kept = TestEnvironment.packageRoot + "/Tests/Fixtures/schemas/" + name
        return FileManager.default.fileExists(atPath: kept) ? kept : try TestEnvironment.sharedFile("schemas/" + name)
    }

    /// Parses `arguments` as the command line would, without running anything.
    static func expectAccepted(_ arguments: [String], in file: String) {
        do {
            let parsed = try CommandLineParser.parse(
                arguments, root: CommandLineTool.root, environment: [:], console: Console(isInteractive: false))
            #expect(
                parsed.command.run != nil, "\(file): `tokenkeeper \(arguments.joined(separator: " "))` is not a command"
            )
        } catch {
            Issue.record("\(file): `tokenkeeper \(arguments.joined(separator: " "))` is refused: \(error)")
        }
    }

    @Test func azurePipelineValidatesAgainstTheAzurePipelinesSchema() throws {
        let checked = try Self.check("azure-pipelines.yml", schema: "azure-pipelines.schema.json")
        #expect(checked.schemaErrors == [])
    }

    @Test func azurePipelineRunsNightlyAndByHandWithDryRunAndPublishesEvenOnFailure() throws {
        let text = try Self.check("azure-pipelines.yml", schema: nil).text
        #expect(text.contains("schedules:") && text.contains("cron: \"0 2 * * *\""))
        #expect(text.contains("name: dryRun") && text.contains("type: boolean"))
        #expect(text.contains("task: PublishTestResults@2"))
        #expect(text.components(separatedBy: "condition: succeededOrFailed()").count - 1 >= 3)
        #expect(text.contains("##vso[task.uploadsummary]"))
        #expect(text.contains("PublishPipelineArtifact@1"))
        #expect(text.contains("TOKENKEEPER_MASTER_KEY: $(TOKENKEEPER-MASTER-KEY)"))
    }

    @Test func githubWorkflowValidatesAgainstTheGitHubWorkflowSchema() throws {
        let checked = try Self.check("github-actions.yml", schema: "github-workflow.schema.json")
        #expect(checked.schemaErrors == [])
        #expect(checked.text.contains("workflow_dispatch:") && checked.text.contains("dry_run:"))
        #expect(checked.text.contains("$GITHUB_STEP_SUMMARY"))
        #expect(checked.text.contains("actions/upload-artifact@v4"))
        #expect(checked.text.contains("if: always()"))
    }

    @Test func gitlabPipelineValidatesAgainstTheGitLabCISchemaAndHasSchedulesJUnitReportAndArtifacts() throws {
        let checked = try Self.check("gitlab-ci.yml", schema: "gitlab-ci.schema.json")
        #expect(checked.schemaErrors == [])
        #expect(checked.text.contains("$CI_PIPELINE_SOURCE == \"schedule\""))
        #expect(checked.text.contains("junit: reports/*.xml"))
        #expect(checked.text.contains("when: always"))
    }

    @Test func everyTokenkeeperCommandLineInThePipelinesIsAccepted() throws {
        for name in ["azure-pipelines.yml", "github-actions.yml", "gitlab-ci.yml"] {
            let checked = try Self.check(name, schema: nil)
            #expect(
                checked.commands.contains {
                    $0.first == "run" && $0.contains("--dry-run") && $0.contains("--report-dir")
                }, "\(name)")
            #expect(checked.commands.contains { $0.first == "validate" }, "\(name)")
            for command in checked.commands { Self.expectAccepted(command, in: name) }
        }
    }

    // MARK: - Sharded pipelines (PostgreSQL state)

    static let sharded = ["azure-pipelines-sharded.yml", "github-actions-sharded.yml", "gitlab-ci-sharded.yml"]

    @Test func shardedAzurePipelineValidatesAgainstTheAzurePipelinesSchema() throws {
        let checked = try Self.check("azure-pipelines-sharded.yml", schema: "azure-pipelines.schema.json")
        #expect(checked.schemaErrors == [])
    }

    @Test func shardedAzurePipelineRunsNParallelShardsOfOneBuildAndAFanInThatFailsOnAMissingReport() throws {
        let text = try Self.check("azure-pipelines-sharded.yml", schema: nil).text
        #expect(text.contains("strategy:\n      parallel: ${{ parameters.shards }}"))
        #expect(text.contains("SHARD: $(System.JobPositionInPhase)/$(System.TotalJobsInPhase)"))
        #expect(text.contains("RUN_ID: $(Build.BuildId)"))
        #expect(text.contains("TOKENKEEPER_POSTGRES: $(TOKENKEEPER-POSTGRES)"))
        #expect(text.contains("artifact: tokenkeeper-reports-$(System.JobPositionInPhase)"))
        #expect(text.contains("dependsOn: shard") && text.contains("task: DownloadPipelineArtifact@2"))
        #expect(text.contains("report show /reports --shards \"$SHARDS\"") && text.contains("exit $status"))
        #expect(text.components(separatedBy: "condition: succeededOrFailed()").count - 1 >= 3)
    }

    @Test func shardedGitHubWorkflowValidatesAndRunsAMatrixOfNShardsAndAFanIn() throws {
        let checked = try Self.check("github-actions-sharded.yml", schema: "github-workflow.schema.json")
        #expect(checked.schemaErrors == [])
        let text = checked.text
        #expect(text.contains("fail-fast: false"))
        #expect(text.contains("shard: [1, 2, 3, 4]") && text.contains("SHARDS: 4"), "the matrix has SHARDS entries")
        #expect(text.contains("SHARD: ${{ matrix.shard }}/${{ env.SHARDS }}"))
        #expect(text.contains("RUN_ID: ${{ github.run_id }}"))
        #expect(text.contains("needs: shard") && text.contains("if: always()"))
        #expect(text.contains("pattern: tokenkeeper-reports-*"))
        #expect(text.contains("$GITHUB_STEP_SUMMARY") && text.contains("exit $status"))
    }

    @Test func shardedGitLabPipelineValidatesAndRunsParallelShardsAndAFanIn() throws {
        let checked = try Self.check("gitlab-ci-sharded.yml", schema: "gitlab-ci.schema.json")
        #expect(checked.schemaErrors == [])
        let text = checked.text
        #expect(text.contains("parallel: 4") && text.contains("--shards 4"), "the fan-in expects as many shards as run")
        #expect(text.contains("--shard \"$CI_NODE_INDEX/$CI_NODE_TOTAL\" --run-id \"$CI_PIPELINE_ID\""))
        #expect(text.contains("junit: reports/*.xml"))
        #expect(!text.contains("resource_group:"), "a resource group would run the shards one after another")
        #expect(text.contains("needs:\n    - job: tokenkeeper") && text.contains("when: always"))
    }

    @Test func everyShardedPipelineRunsItsShardWithTheRunIDAndShowsTheWholeRunAndTheCLIAcceptsEveryLine() throws {
        for name in Self.sharded {
            let checked = try Self.check(name, schema: nil)
            let runs = checked.commands.filter { $0.first == "run" }
            #expect(!runs.isEmpty, "\(name)")
            for run in runs {
                #expect(
                    run.contains("--shard") && run.contains("--run-id") && run.contains("--dry-run"), "\(name): \(run)")
            }
            #expect(
                checked.commands.contains { $0.starts(with: ["report", "show"]) && $0.contains("--shards") }, "\(name)")
            for command in checked.commands { Self.expectAccepted(command, in: name) }
        }
    }

    @Test func theEmbeddedPipelinesStayUnshardedForSQLiteState() throws {
        for name in ["azure-pipelines.yml", "github-actions.yml", "gitlab-ci.yml"] {
            let checked = try Self.check(name, schema: nil)
            #expect(!checked.commands.contains { $0.contains("--shard") }, "\(name)")
            #expect(checked.text.contains("nightly.yml") && !checked.text.contains("nightly-postgres.yml"))
        }
    }

    @Test func aCommandLineTheCLIDoesNotKnowIsCaught() {
        #expect(throws: UsageError.self) {
            try CommandLineParser.parse(
                ["run", "job.yml", "--dryrun"], root: CommandLineTool.root, environment: [:],
                console: Console(isInteractive: false))
        }
    }
}

/// What can be checked of the Dockerfile without a Docker engine.
@Suite struct DockerfileTests {
    /// The Dockerfile's instructions, without comments and blank lines. Throws when it cannot be read or has
    /// none, so that no test passes with nothing to check.
    static func lines() throws -> [String] {
        let text = try String(contentsOfFile: TestEnvironment.packageRoot + "/Dockerfile", encoding: .utf8)
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.hasPrefix("#") && !$0.isEmpty
        }
        try #require(!lines.isEmpty, "the Dockerfile has no instructions")
        return lines
    }

    @Test func everyBaseImageIsPinnedByVersion() throws {
        let images = try Self.lines().filter { $0.hasPrefix("FROM ") }.map { $0.split(separator: " ")[1] }
        #expect(images.count >= 2, "multi-stage")
        for image in images {
            let tag = image.split(separator: ":").dropFirst().first ?? ""
            #expect(tag.first?.isNumber == true, "\(image) is not pinned by version")
        }
    }

    @Test func buildsReleaseWithAStaticSwiftStandardLibrary() throws {
        #expect(try Self.lines().contains { $0.contains("swift build -c release --static-swift-stdlib") })
    }

    @Test func runsAsAUserThatIsNotRoot() throws {
        let users = try Self.lines().filter { $0.hasPrefix("USER ") }
        #expect(!users.isEmpty)
        for user in users {
            let name = user.dropFirst(5).split(separator: ":")[0]
            #expect(name != "root" && name != "0", "\(user)")
        }
    }

    @Test func noEnvOrArgCarriesASecret() throws {
        for line in try Self.lines() where line.hasPrefix("ENV ") || line.hasPrefix("ARG ") {
            let upper = line.uppercased()
            for word in ["KEY", "SECRET", "TOKEN", "PASSWORD", "CREDENTIAL"] {
                #expect(!upper.contains(word), "\(line)")
            }
        }
    }

    @Test func everyCopiedPathExists() throws {
        let copies = try Self.lines().filter { $0.hasPrefix("COPY ") && !$0.contains("--from=") }
        #expect(!copies.isEmpty, "the build copies the sources from the context")
        for line in copies {
            let parts = line.split(separator: " ").dropFirst().map(String.init)
            for source in parts.dropLast() {
                #expect(FileManager.default.fileExists(atPath: TestEnvironment.packageRoot + "/" + source), "\(source)")
            }
        }
    }

    @Test func stateIsAVolumeAndTokenkeeperTheEntryPoint() throws {
        let lines = try Self.lines()
        #expect(lines.contains { $0.hasPrefix("VOLUME") && $0.contains("/work/state") })
        #expect(lines.contains("ENTRYPOINT [\"tokenkeeper\"]"))
    }
}

import Foundation
import Testing

@testable import CLI
@testable import Crypto
@testable import Custody
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support

@Suite struct JobRunnerTests {
    static let twoStages =
        JobFixture.header + """
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
              - name: offboard
                kind: revoke
                users: [t1/u0]
            report:
              junit: ./reports/job.xml
              markdown: ./reports/job.md
              json: ./reports/job.json
            """

    @Test func dryRunLeavesVaultAndStoreByteIdenticalAndReportsWhatWouldHappen() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 5)
            let before = try fixture.stateSnapshot()
            let report = try await fixture.run(try fixture.spec(Self.twoStages), dryRun: true)
            let after = try fixture.stateSnapshot()
            #expect(after.keys.sorted() == before.keys.sorted())
            #expect(after.filter { before[$0.key] != $0.value }.keys.sorted() == [])
            #expect(report.dryRun)
            #expect(report.stages[0].count(.tokensToRewrap) == 10)
            #expect(report.stages[0].case("t1")?.message.hasPrefix("would add key version 2") == true)
            #expect(report.stages[1].case("t1")?.message.hasPrefix("would revoke 1 user") == true)
            let xml = try String(contentsOfFile: folder + "/reports/job.xml", encoding: .utf8)
            #expect(xml.contains("<property name=\"dry_run\" value=\"true\"/>"))
        }
    }

    @Test func dryRunOnAStoreThatDoesNotExistIsAnEnvironmentErrorThatCreatesNothing() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            unlink(fixture.storePath)
            let error = await #expect(throws: StateBindingError.self) {
                try await fixture.run(try fixture.spec(Self.twoStages), dryRun: true)
            }
            #expect(error?.exitStatus == .environment)
            #expect(!PrivateFiles.exists(fixture.storePath))
        }
    }

    @Test func failedStageWithOnFailureStopSkipsTheRest() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            let text = Self.twoStages.replacingOccurrences(of: "tenants: all", with: "tenants_file: ./missing.txt")
            let report = try await fixture.run(try fixture.spec(text))
            #expect(report.stages[0].result == .failed)
            #expect(report.stages[1].result == .notRun)
            #expect(report.stages[1].summary.contains("rotate-keys failed"))
            #expect(report.exitStatus == .itemsFailed)
            #expect(try SQLiteTokenStore(path: fixture.storePath).count() == 2)
        }
    }

    @Test func failedStageWithOnFailureContinueLetsTheNextStageRun() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            let text = Self.twoStages.replacingOccurrences(
                of: "tenants: all", with: "tenants_file: ./missing.txt\n    on_failure: continue")
            let report = try await fixture.run(try fixture.spec(text))
            #expect(report.stages[0].result == .failed)
            #expect(report.stages[1].result == .passed)
            #expect(try SQLiteTokenStore(path: fixture.storePath).count() == 1)
        }
    }

    @Test func stageOptionRunsOnlyThatStageAndAMisspeltNameGetsASuggestion() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            let spec = try fixture.spec(Self.twoStages)
            let report = try await fixture.run(spec, stage: "offboard")
            #expect(report.stages.map(\.name) == ["offboard"])
            #expect(try fixture.versions("t1") == [1])
            let error = await #expect(throws: RunnerError.self) { try await fixture.run(spec, stage: "ofboard") }
            #expect(error?.description.contains("Did you mean 'offboard'?") == true)
            #expect(error?.exitStatus == .usage)
        }
    }

    @Test func secondJobWaitsForTheLockThenFailsNamingTheHolder() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1)
            let holder = try JobLock.acquire(
                protecting: [fixture.vaultPath, fixture.storePath], timeout: 1, owner: "job other, run x")
            defer { holder.release() }
            var options = RunOptions(defaultPrincipal: "pipeline", environment: fixture.environment)
            options.lockTimeout = 0.3
            let started = Date()
            let error = await #expect(throws: JobLockError.self) {
                try await JobRunner(spec: try fixture.spec(Self.twoStages), options: options).run()
            }
            #expect(Date().timeIntervalSince(started) >= 0.3)
            #expect(error?.description.contains("job other, run x") == true)
            #expect(error?.exitStatus == .environment)
        }
    }

    @Test func missingMasterKeyVariableStopsTheJobBeforeAnyStage() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let options = RunOptions(defaultPrincipal: "pipeline", environment: [:])
            let error = await #expect(throws: SecretReferenceError.self) {
                try await JobRunner(spec: try fixture.spec(Self.twoStages), options: options).run()
            }
            #expect(error?.description.contains("TOKENKEEPER_MASTER_KEY") == true)
            #expect(error?.exitStatus == .environment)
        }
    }

    @Test func reportsCarryRunIDSpecHashAndVersionAndGoToTheReportDirectory() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1)
            let spec = try fixture.spec(Self.twoStages)
            let report = try await fixture.run(spec, reportDirectory: folder + "/out")
            #expect(report.specSHA256 == SHA256.hexDigest(Array(Self.twoStages.utf8)))
            #expect(report.runID.count > 16)
            for name in ["job.xml", "job.md", "job.json"] { #expect(PrivateFiles.exists(folder + "/out/" + name)) }
            #expect(!PrivateFiles.exists(folder + "/reports"))
            let json = try JSONReportWriter.read(Data(contentsOf: URL(fileURLWithPath: folder + "/out/job.json")))
            #expect(json.runID == report.runID)
            #expect(json.stages.map(\.cases) == report.stages.map(\.cases))
            #expect(json.stages.map(\.counts) == report.stages.map(\.counts))
            #expect(abs(json.startedAt.timeIntervalSince(report.startedAt)) < 0.001)
            let xml = try String(contentsOfFile: folder + "/out/job.xml", encoding: .utf8)
            #expect(xml.contains("<property name=\"run_id\" value=\"\(report.runID)\"/>"))
            #expect(xml.contains("<property name=\"spec_sha256\" value=\"\(report.specSHA256)\"/>"))
            #expect(xml.contains("<property name=\"tokenkeeper_version\" value=\"\(CommandLineTool.version)\"/>"))
        }
    }
}

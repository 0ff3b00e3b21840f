import Foundation
import Testing

@testable import Report
@testable import Spec

@Suite struct JobSpecTests {
    static let examples = TestEnvironment.packageRoot + "/examples"

    private func parse(_ text: String) throws -> JobSpec {
        try JobSpec.parse(text: text, fileName: "job.yml", sourcePath: "/specs/job.yml")
    }

    private func errors(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "(accepted)"
        } catch {
            return "\(error)"
        }
    }

    static let minimal = """
        version: 1
        name: n
        vault:
          path: ./v
        store:
          sqlite: ./s.db
        stages:
          - name: r
            kind: rotate
            tenants: all

        """

    @Test(arguments: ["nightly.yml", "full.yml", "offboard-tenant.yml", "entra.yml", "postgres.yml"])
    func everyExampleIsValid(_ name: String) throws {
        let spec = try JobSpec.load(path: Self.examples + "/" + name)
        #expect(!spec.stages.isEmpty)
    }

    @Test func nightlyExampleSaysWhatTheIssueAsks() throws {
        let spec = try JobSpec.load(path: Self.examples + "/nightly.yml")
        #expect(spec.name == "nightly" && spec.principal == "pipeline")
        #expect(spec.vault == .folder(path: Self.examples + "/state/vault"))
        #expect(spec.masterKey == .environment("TOKENKEEPER_MASTER_KEY"))
        #expect(spec.stages.map(\.name) == ["rotate-keys", "offboard"])
        guard case .rotate(let rotate) = spec.stages[0].options, case .revoke(let revoke) = spec.stages[1].options
        else {
            Issue.record("stage kinds"); return
        }
        #expect(rotate.tenants == .all && rotate.maxKeyAge == 30 * 86_400 && rotate.keepVersions == 1)
        #expect(revoke.usersFile == Self.examples + "/offboarded.txt" && revoke.mode == .deleteRecord)
        #expect(spec.stages[1].onFailure == .continue)
        #expect(spec.report.junit == Self.examples + "/reports/nightly.xml")
        #expect(
            try TenantUserList.users(path: revoke.usersFile!).map(\.description) == [
                "contoso-0001/alice", "fabrikam-0002/bob",
            ])
    }

    @Test func relativePathsResolveAgainstTheSpecsFolder() throws {
        let spec = try parse(Self.minimal)
        #expect(spec.vault == .folder(path: "/specs/v") && spec.store == .sqlite(path: "/specs/s.db"))
    }

    @Test func misspeltKeyGetsDidYouMeanAtItsPosition() {
        let text = Self.minimal + "    max_key_ag: 30d\n"
        #expect(
            errors(text)
                == "job.yml:11:5: error: unknown key 'max_key_ag' in a rotate stage; did you mean 'max_key_age'?")
    }

    @Test func badDurationSaysHowToWriteOne() {
        #expect(
            errors(Self.minimal + "    max_key_age: 30 days\n").contains(
                "job.yml:11:18: error: '30 days' is not a duration; write a whole number"))
    }

    @Test func wrongTypeIsNamed() {
        #expect(
            errors(Self.minimal + "    keep_versions: [1]\n").contains(
                "11:20: error: expected a single value, found a list"))
    }

    @Test func yesIsNotABoolean() {
        let text = Self.minimal.replacingOccurrences(
            of: "tenants: all", with: "tenants: all\n  - name: x\n    kind: revoke\n    tenants: [t]\n    purge: yes")
        #expect(errors(text).contains("'yes' is not a boolean; write true or false"))
    }

    @Test func inlineSecretIsRefusedWithoutRepeatingIt() {
        let text = Self.minimal.replacingOccurrences(
            of: "  path: ./v", with: "  path: ./v\n  master_key: hunter2-s3cret")
        let message = errors(text)
        #expect(message.contains("job.yml:5:15: error: secrets are references"))
        #expect(!message.contains("hunter2"))
    }

    @Test func refreshStageMustNameADefinedProvider() {
        let text =
            Self.minimal
            + "  - name: f\n    kind: refresh\n    provider: locl\nproviders:\n  local:\n    kind: oauth2\n    token_endpoint: https://idp.example/token\n"
        #expect(errors(text).contains("no provider named 'locl'; did you mean 'local'?"))
    }

    @Test func plainHttpIsAcceptedOnlyForLoopback() {
        let base = Self.minimal + "providers:\n  p:\n    kind: oauth2\n    token_endpoint: "
        #expect(errors(base + "http://127.0.0.1:8765/token\n") == "(accepted)")
        #expect(errors(base + "http://idp.example/token\n").contains("is not https"))
    }

    @Test func everyProblemIsReportedInFileOrder() {
        let text = "version: 2\nname: n\nvault:\n  pth: x\nstore:\n  sqlite: s\nstages: []\n"
        let lines = errors(text).split(separator: "\n")
        #expect(lines.count == 4, "\(lines)")
        #expect(lines.first?.hasPrefix("job.yml:1:10:") == true)
    }

    @Test func duplicateStageNamesAreRefused() {
        let text = Self.minimal + "  - name: r\n    kind: rotate\n    tenants: [a]\n"
        #expect(errors(text).contains("a second stage named 'r'"))
    }

    @Test func usersFileWithABadLineNamesTheLine() throws {
        try withTemporaryDirectory { folder in
            try "# c\nt1 u1\nonly-one\n".write(toFile: folder + "/users.txt", atomically: true, encoding: .utf8)
            let error = #expect(throws: SpecError.self) { try TenantUserList.users(path: folder + "/users.txt") }
            #expect(error?.description.contains("users.txt:3:1: error: expected 'TENANT USER'") == true)
        }
    }
}

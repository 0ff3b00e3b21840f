import Foundation
import Testing

@testable import Report
@testable import Store
@testable import Support

/// The example nightly job and the job commands, run as the pipeline runs them: the built binary in a
/// child process, in a temporary folder.
@Suite struct JobCommandsEndToEndTests {
    /// A copy of `examples/nightly.yml` and its users file, with a vault made by `vault init` for the
    /// spec's principal and tokens for the users it offboards and for one who stays.
    struct NightlyWorkspace {
        let folder: String
        let environment: [String: String]

        init(_ folder: String) throws {
            self.folder = folder
            for name in ["nightly.yml", "offboarded.txt"] {
                try FileManager.default.copyItem(
                    atPath: TestEnvironment.packageRoot + "/examples/" + name, toPath: folder + "/" + name)
            }
            let initialized = try runTokenKeeper(
                ["vault", "init", "./state/vault", "--principal", "pipeline"], workingDirectory: folder)
            guard initialized.status == 0 else {
                throw ProcessTimeout(executable: "vault init", arguments: [initialized.stderr], seconds: 0)
            }
            environment = [
                "TOKENKEEPER_MASTER_KEY": initialized.stdout.trimmingCharacters(in: .whitespacesAndNewlines),
                "TOKENKEEPER_PRINCIPAL": "pipeline", "CI": "true",
            ]
            for (tenant, user) in [("contoso-0001", "alice"), ("fabrikam-0002", "bob"), ("contoso-0001", "carol")] {
                let put = try run(
                    ["token", "put", "--tenant", tenant, "--user", user, "--provider", "entra"],
                    stdin: "rt-\(user)-value\n")
                guard put.status == 0 else {
                    throw ProcessTimeout(executable: "token put", arguments: [put.stderr], seconds: 0)
                }
            }
        }

        @discardableResult
        func run(_ arguments: [String], stdin: String = "", extra: [String: String] = [:]) throws -> ProcessResult {
            try runTokenKeeper(
                arguments, environment: environment.merging(extra) { _, new in new }, stdin: stdin,
                workingDirectory: folder)
        }
    }

    @Test func nightlyExampleRunsAsWrittenOffboardsItsUsersAndWritesValidReports() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            let result = try workspace.run(["run", "nightly.yml"])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("offboard: 2 users revoked"))
            #expect(result.stdout.contains("passed; reports:"))
            let list = try workspace.run(["token", "list", "--store", "./state/tokens.db", "--vault", "./state/vault"])
            #expect(list.stdout.contains("carol") && !list.stdout.contains("alice") && !list.stdout.contains("bob"))
            let checked = try ReportWriterTests.check(
                try String(contentsOfFile: folder + "/reports/nightly.xml", encoding: .utf8), in: folder)
            #expect((checked["schema_errors"] as? [String]) == [])
            #expect(
                (checked["suites"] as? [[String: Any]])?.map { $0["name"] as? String } == ["rotate-keys", "offboard"])
            let markdown = try String(contentsOfFile: folder + "/reports/nightly.md", encoding: .utf8)
            #expect(markdown.hasPrefix("## tokenkeeper: nightly — ✅ passed"))
        }
    }

    @Test func nightlyExampleRunTwiceIsUpToDateAndAlreadyRevoked() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            try workspace.run(["run", "nightly.yml"])
            let again = try workspace.run(["run", "nightly.yml"])
            #expect(again.status == 0)
            #expect(again.stderr.contains("rotate-keys: up to date: 2 tenants"))
            #expect(again.stderr.contains("offboard: 0 users revoked, 2 already revoked"))
        }
    }

    @Test func planPrintsWhatWouldHappenAndChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/state/tokens.db"))
            let plan = try workspace.run(["plan", "nightly.yml"])
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains("stage offboard (revoke): would revoke 2 users, 0 already revoked"))
            #expect(plan.stdout.contains("  - contoso-0001: would revoke 1 user (1 record to delete)"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/state/tokens.db")) == before)
            #expect(!PrivateFiles.exists(folder + "/reports"))
        }
    }

    @Test func dryRunWritesReportsMarkedDryRunAndChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            let before = try JobFixture.snapshot(of: folder + "/state")
            let dry = try workspace.run(["run", "nightly.yml", "--dry-run", "--report-dir", "out"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(dry.stderr.contains("offboard: would revoke 2 users"), "\(dry.stderr)")
            #expect(try String(contentsOfFile: folder + "/out/nightly.md", encoding: .utf8).contains("(dry run)"))
            // Vault (audit log included) and store are byte-identical (I5).
            let after = try JobFixture.snapshot(of: folder + "/state")
            #expect(after.keys.sorted() == before.keys.sorted())
            for (name, bytes) in before { #expect(after[name] == bytes, "\(name) changed") }
        }
    }

    @Test func validateAcceptsEveryExampleSpec() throws {
        let examples = try FileManager.default.contentsOfDirectory(atPath: TestEnvironment.packageRoot + "/examples")
            .filter { $0.hasSuffix(".yml") }
        #expect(examples.count >= 4)
        for name in examples {
            let result = try runTokenKeeper(["validate", TestEnvironment.packageRoot + "/examples/" + name])
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stdout.contains(": valid: job "))
        }
    }

    @Test func invalidSpecExitsTwoWithFileLineColumnForEveryProblem() throws {
        try withTemporaryDirectory { folder in
            try Data(
                "version: 1\nname: bad\nvault:\n  path: ./v\n  master_key: env:K\nstore:\n  sqlite: ./s.db\nstages:\n  - name: r\n    kind: rotate\n    max_key_ag: 30d\n"
                    .utf8
            )
            .write(to: URL(fileURLWithPath: folder + "/bad.yml"))
            for command in ["validate", "plan", "run"] {
                let result = try runTokenKeeper([command, "bad.yml"], workingDirectory: folder)
                #expect(result.status == 2, "\(command)")
                #expect(result.stderr.contains("bad.yml:11:5: error:"), "\(command): \(result.stderr)")
                #expect(result.stderr.contains("did you mean 'max_key_age'"), "\(command): \(result.stderr)")
            }
        }
    }

    @Test func missingMasterKeyExitsThreeNamingTheVariable() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            let result = try workspace.run(["run", "nightly.yml"], extra: ["TOKENKEEPER_MASTER_KEY": ""])
            #expect(result.status == 3)
            #expect(result.stderr.contains("TOKENKEEPER_MASTER_KEY is not set"))
        }
    }

    @Test func failedItemExitsOneAndTheReportNamesIt() throws {
        try withTemporaryDirectory { folder in
            let workspace = try NightlyWorkspace(folder)
            let store = try SQLiteTokenStore(path: folder + "/state/tokens.db")
            var row = try #require(try store.get(TokenKey(tenant: "contoso-0001", user: "carol", provider: "entra")))
            row.wrappedKey![15] ^= 0x40  // rotation rewraps the data key: a damaged one fails the item
            row.refreshedAt = Date()
            try store.put(row)
            let spec = try String(contentsOfFile: folder + "/nightly.yml", encoding: .utf8).replacingOccurrences(
                of: "max_key_age: 30d", with: "max_key_age: 0s")
            try Data(spec.utf8).write(to: URL(fileURLWithPath: folder + "/nightly.yml"))
            let result = try workspace.run(["run", "nightly.yml"])
            #expect(result.status == 1, "\(result.stderr)")
            #expect(result.stdout.contains("failed case"))
            let xml = try String(contentsOfFile: folder + "/reports/nightly.xml", encoding: .utf8)
            #expect(xml.contains("name=\"contoso-0001/carol/entra\""))
            #expect(xml.contains("<failure type=\"crypto\""))
        }
    }

    @Test func jobCommandsHaveHelp() throws {
        for command in ["validate", "plan", "run"] {
            let result = try runTokenKeeper([command, "--help"])
            #expect(result.status == 0)
            #expect(result.stdout.contains("USAGE: tokenkeeper \(command) SPEC"), "\(result.stdout)")
        }
    }
}

/// `tokenkeeper status` for a person at a terminal.
@Suite struct StatusCommandTests {
    @Test func statusShowsKeysRowsTokensAndTheNextJobAndChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let workspace = try JobCommandsEndToEndTests.NightlyWorkspace(folder)
            try workspace.run([
                "token", "drop-refresh-token", "--tenant", "contoso-0001", "--user", "carol", "--provider", "entra",
                "--vault", "./state/vault", "--store", "./state/tokens.db",
            ])
            let before = try Data(contentsOf: URL(fileURLWithPath: folder + "/state/tokens.db"))
            let audit = try Data(contentsOf: URL(fileURLWithPath: folder + "/state/vault/audit.log"))
            let status = try workspace.run(["status", "--spec", "nightly.yml"])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("contoso-0001: key version 1, 0 d old"))
            #expect(status.stdout.contains("  tokens per key version: v1 1"))
            #expect(status.stdout.contains("  tokens: active 1, needs_reauth 0, revoked 1"))
            #expect(
                status.stdout.contains(
                    "  next job: rotate-keys: up to date (key version 1); offboard: would revoke 1 user"))
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/state/tokens.db")) == before)
            #expect(try Data(contentsOf: URL(fileURLWithPath: folder + "/state/vault/audit.log")) == audit)
            let json = try workspace.run([
                "status", "--vault", "./state/vault", "--store", "./state/tokens.db", "--format", "json",
            ])
            let tenants = try #require(
                try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            #expect(tenants.map { $0["tenant"] as? String } == ["contoso-0001", "fabrikam-0002"])
        }
    }
}

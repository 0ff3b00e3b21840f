import Foundation
import Testing

@testable import Crypto
@testable import Report
@testable import Store
@testable import Vault

/// Invariant I6: no token, data key or master key appears in anything tokenkeeper prints or logs,
/// except the one output a person asks for explicitly (`token show --reveal`).
@Suite struct NoSecretLeakTests {
    @Test func nothingPrintedOrLoggedContainsATokenOrAKey() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let tokens = ["rt-LEAK-CANARY-put", "rt-LEAK-CANARY-import-1", "rt-LEAK-CANARY-import-2"]
            var printed = ""
            func record(_ result: ProcessResult) { printed += result.stdout + result.stderr }
            let key = ["--tenant", "t1", "--user", "u1", "--provider", "entra"]
            record(try workspace.run(["token", "put"] + key, stdin: tokens[0]))
            let responses = """
                {"access_token":"at-LEAK-CANARY","refresh_token":"\(tokens[1])","id_token":"\(JWTFixture.idToken(["tid": "t2", "oid": "o1"]))"}
                {"refresh_token":"\(tokens[2])","id_token":"not-a-jwt"}
                """
            record(try workspace.run(["token", "import", "--provider", "entra"], stdin: responses))
            for arguments in [
                ["token", "list"], ["token", "list", "--format", "json"], ["token", "show"] + key,
                ["token", "show"] + key + ["--format", "json"], ["vault", "secret", "list"],
                ["vault", "secret", "versions", "t1"],
                ["vault", "audit"], ["vault", "policy", "show"], ["token", "show"] + key + ["--principal", "nobody"],
                ["token", "put", "--tenant", "bad name", "--user", "u", "--provider", "p"],
            ] {
                record(try workspace.run(arguments, stdin: "rt-LEAK-CANARY-bad-input"))
            }
            record(try workspace.run(["token", "list"], extra: ["TOKENKEEPER_MASTER_KEY": "not base64 LEAK-CANARY"]))
            let audit = String(
                decoding: try Data(contentsOf: URL(fileURLWithPath: folder + "/vault/audit.log")), as: UTF8.self)
            let vault = try FileVault.open(
                at: folder + "/vault", masterKey: MasterKey(base64: workspace.masterKey), principal: "ops",
                readOnly: true)
            let dataKeys = try ["t1", "t2"].map { try vault.dataKey(secret: $0, version: 1) }
            var secrets = ["LEAK-CANARY", workspace.masterKey]
            for dataKey in dataKeys {
                secrets.append(dataKey.withUnsafeBytes { Data($0).base64EncodedString() })
                secrets.append(dataKey.withUnsafeBytes { Hex.encode(Array($0)) })
            }
            #expect(printed.contains("t1/u1/entra"))  // the search does look at real output
            for secret in secrets {
                #expect(!printed.contains(secret), "printed output leaks a secret")
                #expect(!audit.contains(secret), "the audit log leaks a secret")
            }
        }
    }

    @Test func nothingTheJobCommandsPrintOrReportContainsATokenOrAKey() throws {
        try withTemporaryDirectory { folder in
            let workspace = try JobCommandsEndToEndTests.NightlyWorkspace(folder)
            let masterKey = workspace.environment["TOKENKEEPER_MASTER_KEY"]!
            // A damaged row makes the rotation report a failure, so error paths are searched too.
            let store = try SQLiteTokenStore(path: folder + "/state/tokens.db")
            var row = try #require(try store.get(TokenKey(tenant: "contoso-0001", user: "carol", provider: "entra")))
            row.wrappedKey![15] ^= 0x40  // rotation rewraps the data key: a damaged one fails the item
            try store.put(row)
            let spec = try String(contentsOfFile: folder + "/nightly.yml", encoding: .utf8)
                .replacingOccurrences(of: "max_key_age: 30d", with: "max_key_age: 0s")
                .replacingOccurrences(
                    of: "  markdown: ./reports/nightly.md",
                    with: "  markdown: ./reports/nightly.md\n  json: ./reports/nightly.json")
            try Data(spec.utf8).write(to: URL(fileURLWithPath: folder + "/nightly.yml"))
            var printed = ""
            for arguments in [
                ["validate", "nightly.yml"], ["plan", "nightly.yml"],
                ["run", "nightly.yml", "--dry-run", "--report-dir", "dry"],
                ["run", "nightly.yml"], ["status", "--spec", "nightly.yml"], ["report", "show", "reports/nightly.xml"],
                ["report", "diff", "dry/nightly.xml", "reports/nightly.xml"],
            ] {
                let result = try workspace.run(arguments)
                printed += result.stdout + result.stderr
            }
            printed += try workspace.run(
                ["run", "nightly.yml"], extra: ["TOKENKEEPER_MASTER_KEY": "not base64 LEAK-CANARY"]
            ).output
            for file in [
                "reports/nightly.xml", "reports/nightly.md", "reports/nightly.json", "dry/nightly.xml",
                "dry/nightly.md",
                "state/vault/audit.log",
            ] {
                printed += try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
            }
            let vault = try FileVault.open(
                at: folder + "/state/vault", masterKey: MasterKey(base64: masterKey), principal: "pipeline",
                readOnly: true)
            var secrets = ["LEAK-CANARY", masterKey, "rt-alice-value", "rt-bob-value", "rt-carol-value"]
            for tenant in ["contoso-0001", "fabrikam-0002"] {
                for version in try vault.versions(of: tenant) {
                    let dataKey = try vault.dataKey(secret: tenant, version: version.number)
                    secrets.append(dataKey.withUnsafeBytes { Data($0).base64EncodedString() })
                    secrets.append(dataKey.withUnsafeBytes { Hex.encode(Array($0)) })
                }
            }
            // the search does look at real output, failures included
            #expect(printed.contains("contoso-0001/carol/entra"))
            for secret in secrets { #expect(!printed.contains(secret), "a job command, report or log leaks a secret") }
        }
    }
}

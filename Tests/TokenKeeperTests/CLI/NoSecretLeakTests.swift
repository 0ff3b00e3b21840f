import Foundation
import Testing
@testable import TokenKeeper

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
            for arguments in [["token", "list"], ["token", "list", "--format", "json"], ["token", "show"] + key,
                              ["token", "show"] + key + ["--format", "json"], ["vault", "secret", "list"], ["vault", "secret", "versions", "t1"],
                              ["vault", "audit"], ["vault", "policy", "show"], ["token", "show"] + key + ["--principal", "nobody"],
                              ["token", "put", "--tenant", "bad name", "--user", "u", "--provider", "p"]] {
                record(try workspace.run(arguments, stdin: "rt-LEAK-CANARY-bad-input"))
            }
            record(try workspace.run(["token", "list"], extra: ["TOKENKEEPER_MASTER_KEY": "not base64 LEAK-CANARY"]))
            let audit = String(decoding: try Data(contentsOf: URL(fileURLWithPath: folder + "/vault/audit.log")), as: UTF8.self)
            let vault = try FileVault.open(at: folder + "/vault", masterKey: MasterKey(base64: workspace.masterKey), principal: "ops",
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
}

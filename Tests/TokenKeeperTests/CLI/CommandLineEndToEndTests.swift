import Foundation
import Testing

@testable import CLI
@testable import Crypto
@testable import Report

/// Runs the built `tokenkeeper` as a child process, in a temporary folder, as a person would.
@Suite struct CommandLineEndToEndTests {
    /// A workspace: a vault made by `vault init` and the environment that points at it.
    struct Workspace {
        let folder: String
        let masterKey: String
        var environment: [String: String] {
            [
                "TOKENKEEPER_MASTER_KEY": masterKey, "TOKENKEEPER_PRINCIPAL": "ops",
                "TOKENKEEPER_VAULT": folder + "/vault",
                "TOKENKEEPER_STORE": folder + "/tokens.db",
            ]
        }

        init(_ folder: String) throws {
            self.folder = folder
            let result = try runTokenKeeper(["vault", "init", folder + "/vault", "--principal", "ops"])
            guard result.status == 0 else {
                throw ProcessTimeout(executable: "vault init", arguments: [result.stderr], seconds: 0)
            }
            masterKey = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        @discardableResult
        func run(_ arguments: [String], stdin: String = "", extra: [String: String] = [:]) throws -> ProcessResult {
            try runTokenKeeper(
                arguments, environment: environment.merging(extra) { _, new in new }, stdin: stdin,
                workingDirectory: folder)
        }
    }

    @Test func vaultInitPrintsTheMasterKeyOnceAndItOpensTheVault() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            #expect(Data(base64Encoded: workspace.masterKey)?.count == 32)
            #expect(try workspace.run(["vault", "secret", "list"]).status == 0)
        }
    }

    @Test func disablingAVersionWithoutNamingItIsRefusedAndChangesNothing() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            #expect(try workspace.run(["vault", "secret", "create", "t1"]).status == 0)
            #expect(try workspace.run(["vault", "secret", "rotate", "t1"]).status == 0)
            let refused = try workspace.run(["vault", "secret", "disable", "t1"])
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("--version is required"))
            let versions = try workspace.run(["vault", "secret", "versions", "t1"])
            #expect(!versions.stdout.contains("disabled"), "\(versions.stdout)")
        }
    }

    @Test func runWithAStageOptionMissingItsValueIsRefused() throws {
        try withTemporaryDirectory { folder in
            let result = try runTokenKeeper(["run", folder + "/job.yml", "--stage", "--dry-run"])
            #expect(result.status == 2)
            #expect(result.stderr.contains("--stage needs a value, but the option --dry-run follows it"))
        }
    }

    @Test func masterKeyOutWritesAPrivateKeyFileAndNeverOverwritesIt() throws {
        try withTemporaryDirectory { folder in
            let first = try runTokenKeeper(["vault", "init", folder + "/v", "--master-key-out", folder + "/mk"])
            #expect(first.status == 0 && first.stdout.isEmpty)
            #expect(
                try FileManager.default.attributesOfItem(atPath: folder + "/mk")[.posixPermissions] as? Int == 0o600)
            let second = try runTokenKeeper(["vault", "init", folder + "/v2", "--master-key-out", folder + "/mk"])
            #expect(second.status == 2 && second.stderr.contains("never overwrites"))
            let listed = try runTokenKeeper([
                "vault", "secret", "list", "--vault", folder + "/v", "--master-key-file", folder + "/mk",
            ])
            #expect(listed.status == 0, "\(listed.stderr)")
        }
    }

    @Test func tokenPutReadsStandardInputAndShowRevealsItOnlyOnRequest() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let put = try workspace.run(
                ["token", "put", "--tenant", "t1", "--user", "u1", "--provider", "entra"], stdin: "rt-secret-put\n")
            #expect(put.status == 0, "\(put.stderr)")
            let show = try workspace.run(["token", "show", "--tenant", "t1", "--user", "u1", "--provider", "entra"])
            #expect(show.status == 0 && show.stdout.contains("active") && !show.stdout.contains("rt-secret-put"))
            let reveal = try workspace.run([
                "token", "show", "--tenant", "t1", "--user", "u1", "--provider", "entra", "--reveal",
            ])
            #expect(reveal.stdout.hasSuffix("rt-secret-put\n"))
        }
    }

    @Test func tokenPutRefusesEmptyInput() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let result = try workspace.run(
                ["token", "put", "--tenant", "t1", "--user", "u1", "--provider", "entra"], stdin: "")
            #expect(result.status == 2 && result.stderr.contains("standard input"))
        }
    }

    @Test func importOfAnAuthMeArrayCountsEachOutcome() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let idToken = JWTFixture.idToken(["tid": "tenant-x", "oid": "oid-1"])
            let authMe = """
                [{"provider_name":"aad","user_id":"a@example.com","access_token":"at","refresh_token":"rt-aad-1","id_token":"\(idToken)",
                  "expires_on":"2026-11-22T10:00:00Z","user_claims":[]},
                 {"provider_name":"aad","user_id":"b@example.com","access_token":"at"},
                 {"provider_name":"google","user_id":"g1","refresh_token":"rt-google-1","user_claims":[]}]
                """
            try authMe.write(toFile: folder + "/me.json", atomically: true, encoding: .utf8)
            let result = try workspace.run(["token", "import", folder + "/me.json"])
            #expect(result.status == 1)  // the google entry has no tenant and fails
            #expect(result.stdout.contains("added 1, updated 0, skipped 1, failed 1"), "\(result.stdout)")
            #expect(result.stderr.contains("entry 3: failed"))
            let again = try workspace.run(["token", "import", folder + "/me.json", "--tenant", "consumers"])
            #expect(again.stdout.contains("added 1, updated 1, skipped 1, failed 0"), "\(again.stdout)")
            #expect(again.status == 0)
        }
    }

    @Test func importOfTokenResponsesFromStandardInputUsesIdTokenClaims() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let lines = (1...3).map { index in
                #"{"access_token":"at","refresh_token":"rt-line-\#(index)","id_token":"\#(JWTFixture.idToken(["tid": "t9", "oid": "o\(index)"]))"}"#
            }.joined(separator: "\n")
            let result = try workspace.run(["token", "import", "--provider", "entra"], stdin: lines)
            #expect(result.status == 0 && result.stdout.contains("added 3"), "\(result.stderr)")
            let list = try workspace.run(["token", "list", "--tenant", "t9", "--format", "json"])
            let rows = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
            #expect(rows?.compactMap { $0["user"] as? String } == ["o1", "o2", "o3"])
        }
    }

    @Test func deleteAndDropRefreshTokenEndAccessAndSayWhenAlreadyDone() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let key = ["--tenant", "t1", "--user", "u1", "--provider", "entra"]
            try workspace.run(["token", "put"] + key, stdin: "rt-1")
            #expect(try workspace.run(["token", "drop-refresh-token"] + key).stdout.contains("refresh token dropped"))
            #expect(try workspace.run(["token", "drop-refresh-token"] + key).stdout.contains("already dropped"))
            #expect(try workspace.run(["token", "list"]).stdout.contains("revoked (no token)"))
            #expect(try workspace.run(["token", "delete"] + key).stdout.contains("deleted"))
            #expect(try workspace.run(["token", "delete"] + key).stdout.contains("already gone"))
        }
    }

    @Test func wrongMasterKeyExitsWithTheEnvironmentCode() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            let other = try SecureRandom.bytes(32)
            let result = try workspace.run(
                ["token", "list"], extra: ["TOKENKEEPER_MASTER_KEY": Data(other).base64EncodedString()])
            #expect(result.status == 3 && result.stderr.contains("wrong master key"))
        }
    }

    @Test func missingPermissionIsRefusedNamingThePermissionAndTheFix() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            #expect(try workspace.run(["vault", "policy", "set", "app", "--permissions", "list"]).status == 0)
            let result = try workspace.run(
                ["token", "put", "--tenant", "t1", "--user", "u", "--provider", "p"], stdin: "rt",
                extra: ["TOKENKEEPER_PRINCIPAL": "app"])
            #expect(result.status == 1 && result.stderr.contains("lacks the 'get' permission"))
            #expect(result.stderr.contains("vault policy set app --permissions get"))
        }
    }

    @Test func unknownOptionIsAUsageError() throws {
        let result = try runTokenKeeper(["token", "list", "--tenat", "x"])
        #expect(result.status == 2 && result.stderr.contains("Did you mean '--tenant'?"))
    }

    @Test func everyCommandHasHelp() throws {
        func paths(_ command: Command, _ prefix: [String]) -> [[String]] {
            [prefix] + command.subcommands.flatMap { paths($0, prefix + [$0.name]) }
        }
        let all = paths(CommandLineTool.root, [])
        #expect(all.count > 15)
        for path in all {
            let result = try runTokenKeeper(path + ["--help"])
            #expect(result.status == 0 && result.stdout.contains("USAGE: tokenkeeper"), "\(path)")
            #expect(result.stdout.contains("OVERVIEW: "), "\(path)")
        }
    }

    @Test func rekeyThroughTheCommandLineMovesTheVaultToTheNewKey() throws {
        try withTemporaryDirectory { folder in
            let workspace = try Workspace(folder)
            try workspace.run(["token", "put", "--tenant", "t1", "--user", "u1", "--provider", "p"], stdin: "rt-rekey")
            let rekey = try workspace.run(["vault", "rekey", "--new-master-key-out", folder + "/new.key"])
            #expect(rekey.status == 0, "\(rekey.stderr)")
            #expect(try workspace.run(["token", "list"]).status == 3)
            let reveal = try workspace.run([
                "token", "show", "--tenant", "t1", "--user", "u1", "--provider", "p", "--reveal",
                "--master-key-file", folder + "/new.key",
            ])
            #expect(reveal.stdout.hasSuffix("rt-rekey\n"), "\(reveal.stderr)")
        }
    }
}

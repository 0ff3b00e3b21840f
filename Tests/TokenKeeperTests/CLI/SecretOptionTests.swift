import Foundation
import Testing

@testable import Report
@testable import Vault

/// A secret given where a path or nothing belongs is never echoed back: errors name the option that
/// was wrong and say where the secret goes instead.
@Suite struct SecretOptionTests {
    @Test func theKeyItselfGivenAsMasterKeyFileIsNeverPrinted() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let key = workspace.masterKey
            var environment = workspace.environment
            environment["TOKENKEEPER_MASTER_KEY"] = nil
            for arguments in [
                ["vault", "secret", "list", "--master-key-file=\(key)"],
                ["vault", "secret", "list", "--master-key-file", key],
                ["vault", "rekey", "--new-master-key-file", key, "--master-key-file", key],
            ] {
                let result = try runTokenKeeper(
                    arguments, environment: environment.merging(["TOKENKEEPER_MASTER_KEY": ""]) { _, new in new },
                    workingDirectory: folder)
                #expect(result.status == 3, "\(result.stderr)")
                #expect(!result.output.contains(key), "the key is echoed by \(arguments[0...2])")
                #expect(!result.output.contains(String(key.prefix(12))), "part of the key is echoed")
                #expect(result.stderr.contains("--master-key-file") || result.stderr.contains("--new-master-key-file"))
                #expect(result.stderr.contains("looks like a master key itself"), "\(result.stderr)")
            }
        }
    }

    @Test func aKeyGivenWhereTheNewKeyIsToBeWrittenIsRefusedUnprinted() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let key = workspace.masterKey
            for arguments in [
                ["vault", "init", folder + "/v2", "--master-key-out", key],
                ["vault", "rekey", "--new-master-key-out", key],
            ] {
                let result = try workspace.run(arguments)
                #expect(result.status == 3, "\(result.stderr)")
                #expect(!result.output.contains(String(key.prefix(12))), "\(arguments[0...1]) echoes the key")
                #expect(result.stderr.contains("looks like a master key itself"))
                #expect(!FileManager.default.fileExists(atPath: folder + "/" + key))
            }
            #expect(!FileManager.default.fileExists(atPath: folder + "/v2"))
        }
    }

    @Test func aMissingMasterKeyFileNamesTheOptionNotItsValue() throws {
        try withTemporaryDirectory { folder in
            let result = try runTokenKeeper(
                ["vault", "secret", "list", "--vault", folder + "/v", "--master-key-file", folder + "/no-such-key"],
                environment: ["TOKENKEEPER_MASTER_KEY": ""])
            #expect(result.status == 3)
            #expect(result.stderr.contains("--master-key-file: the file it names cannot be opened"), "\(result.stderr)")
            #expect(!result.stderr.contains("no-such-key"))
        }
    }

    @Test func runWithTheKeyAsMasterKeyFileDoesNotPrintIt() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try Data((JobFixture.header + "stages:\n  - name: r\n    kind: rotate\n    tenants: all\n").utf8)
                .write(to: URL(fileURLWithPath: folder + "/job.yml"))
            let key = fixture.masterKey.base64
            for command in [["run", "job.yml"], ["plan", "job.yml"], ["status", "--spec", "job.yml"]] {
                let result = try runTokenKeeper(command + ["--master-key-file", key], workingDirectory: folder)
                #expect(result.status == 3, "\(result.stderr)")
                #expect(
                    !result.output.contains(key) && !result.output.contains(String(key.prefix(12))),
                    "\(command[0]) echoes the key")
                #expect(result.stderr.contains("--master-key-file"))
            }
        }
    }

    @Test(arguments: [
        ["--master-key", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="],
        ["--master-key=QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVowMTIzNDU="],
    ])
    func masterKeyAsAnArgumentIsRefusedWithWhereItGoesInstead(_ option: [String]) throws {
        let result = try runTokenKeeper(["vault", "secret", "list"] + option)
        #expect(result.status == 2)
        #expect(
            result.stderr.contains("TOKENKEEPER_MASTER_KEY") && result.stderr.contains("--master-key-file"),
            "\(result.stderr)")
        #expect(!result.output.contains("QUJDREVGR0hJSktMTU5P"))
    }
}

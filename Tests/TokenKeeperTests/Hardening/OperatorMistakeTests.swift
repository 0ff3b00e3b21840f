import Foundation
import Testing

@testable import Report
@testable import Store

/// Operator mistakes are answered with the right exit code and a clear message, never silently
/// obeyed or half done (issue 10, point 13).
@Suite struct OperatorMistakeTests {
    @Test func runAndPlanRefuseAVaultOrStoreOptionThatDiffersFromTheSpec() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            for command in ["run", "plan"] {
                for (option, value) in [("--vault", "./elsewhere/vault"), ("--store", "./elsewhere/tokens.db")] {
                    let result = try world.run([command, "nightly.yml", option, value])
                    #expect(result.status == 2, "\(command) \(option): \(result.stderr)")
                    #expect(result.stderr.contains(option) && result.stderr.contains("spec"), "\(result.stderr)")
                }
                let same = try world.run([command, "nightly.yml", "--vault", "./state/vault", "--store", world.store])
                #expect(same.status == 0, "\(command): \(same.stderr)")
            }
        }
    }

    @Test(arguments: ["validate", "plan", "run"])
    func missingSpecOrAFolderGivenAsSpecIsAUsageError(command: String) throws {
        try withTemporaryDirectory { folder in
            let missing = try runTokenKeeper([command, "missing.yml"], workingDirectory: folder)
            #expect(missing.status == 2, "\(missing.stderr)")
            #expect(
                missing.stderr.contains("missing.yml") && missing.stderr.contains("does not exist"), "\(missing.stderr)"
            )
            let directory = try runTokenKeeper([command, folder], workingDirectory: folder)
            #expect(directory.status == 2, "\(directory.stderr)")
            #expect(directory.stderr.contains("is a folder"), "\(directory.stderr)")
        }
    }

    @Test func corruptSecretFileFailsItsTenantWithExitOneInEveryCommand() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder, maxKeyAge: "0s")
            let file = world.vault + "/secrets/fabrikam-0002.json"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            bytes[20] ^= 0x04
            try bytes.write(to: URL(fileURLWithPath: file))
            chmod(file, 0o600)
            let run = try world.run(["run", "nightly.yml", "--stage", "rotate-keys"])
            #expect(run.status == 1, "\(run.stderr)")
            let xml = try String(contentsOfFile: folder + "/reports/nightly.xml", encoding: .utf8)
            #expect(xml.contains("name=\"fabrikam-0002\"") && xml.contains("type=\"corrupt\""), "\(xml)")
            #expect(
                try world.reveal(tenant: "contoso-0001", user: "carol") == "rt-carol-value",
                "the other tenant still rotates")
            let bob = ["--tenant", "fabrikam-0002", "--user", "bob", "--provider", "entra"]
            for arguments in [
                ["token", "show"] + bob + ["--reveal"], ["status"], ["status", "--spec", "nightly.yml"],
                ["plan", "nightly.yml"],
            ] {
                let result = try world.run(arguments)
                #expect(result.status == 1, "\(arguments): \(result.stderr)")
                #expect((result.stdout + result.stderr).contains("fabrikam-0002"), "\(arguments): \(result.stderr)")
            }
        }
    }

    @Test func corruptVaultManifestIsAnEnvironmentErrorInEveryCommand() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let file = world.vault + "/policies.json"
            var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
            bytes[5] ^= 0x04
            try bytes.write(to: URL(fileURLWithPath: file))
            chmod(file, 0o600)
            for arguments in [["run", "nightly.yml"], ["token", "list"], ["status"], ["plan", "nightly.yml"]] {
                let result = try world.run(arguments)
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains("policies.json"), "\(arguments): \(result.stderr)")
            }
        }
    }
}

/// Commands that only read work on state mounted read-only; commands that write say the folder is
/// read-only (issue 10, point 13). Needs a private mount namespace (root, as CI runs the tests).
@Suite(.enabled(if: ReadOnlyMount.isAvailable, "needs unshare and mount (root)"))
struct ReadOnlyStateTests {
    @Test func statusPlanAndTokenListReadAStateMountedReadOnly() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            try world.run(["run", "nightly.yml"])
            let before = try StateWorld.snapshot(world.state)
            for arguments in [
                ["status"], ["status", "--spec", "nightly.yml"], ["plan", "nightly.yml"], ["token", "list"],
                ["run", "nightly.yml", "--dry-run", "--report-dir", folder + "/dry"],
            ] {
                let result = try ReadOnlyMount.run(world: world, arguments)
                #expect(result.status == 0, "\(arguments): \(result.stderr)")
            }
            #expect(try StateWorld.snapshot(world.state) == before)
        }
    }

    @Test func readOnlyMountShowsChangesStillInTheWriteAheadLog() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            // A writer that has not checkpointed: its last change is only in tokens.db-wal.
            let writer = try SQLiteTokenStore(path: world.store)
            try writer.put(
                StoredToken(
                    key: TokenKey(tenant: "t-wal", user: "u-wal", provider: "entra"), secretName: "t-wal",
                    keyVersion: 1,
                    sealedToken: [1, 2, 3], issuedAt: Date(), expiresAt: nil, updatedAt: Date()))
            #expect(try FileManager.default.attributesOfItem(atPath: world.store + "-wal")[.size] as? Int ?? 0 > 0)
            let list = try ReadOnlyMount.run(world: world, ["token", "list"])
            #expect(list.status == 0, "\(list.stderr)")
            #expect(list.stdout.contains("t-wal"), "\(list.stdout)")
            withExtendedLifetime(writer) {}
        }
    }

    @Test func commandsThatWriteSayTheStateIsReadOnly() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            for arguments in [
                ["run", "nightly.yml"], ["token", "put", "--tenant", "t9", "--user", "u9", "--provider", "entra"],
            ] {
                let result = try ReadOnlyMount.run(world: world, arguments, stdin: "rt-nine")
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains("read-only"), "\(arguments): \(result.stderr)")
            }
        }
    }
}

/// Runs the built binary with a world's `state` folder bind-mounted read-only over itself, in a private
/// mount namespace (`unshare -m`), so the mount ends with the process.
enum ReadOnlyMount {
    static let isAvailable: Bool = {
        guard geteuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/unshare") else { return false }
        let probe = try? runProcess(
            "/usr/bin/unshare",
            ["-m", "sh", "-c", "mount --bind /tmp /tmp && mount -o remount,bind,ro /tmp && ! touch /tmp/.tk-ro-probe"],
            timeout: 20)
        return probe?.status == 0
    }()

    static func run(world: StateWorld, _ arguments: [String], stdin: String = "") throws -> ProcessResult {
        let script = #"mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@""#
        return try runProcess(
            "/usr/bin/unshare",
            ["-m", "sh", "-c", script, "sh", world.state, TestEnvironment.tokenkeeperExecutable] + arguments,
            environment: world.workspace.environment, stdin: stdin, workingDirectory: world.folder)
    }
}

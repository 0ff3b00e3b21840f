import Foundation
import Testing

@testable import Report
@testable import Support

/// A missing, empty or different store is never taken for a new one: the vault records the store it
/// serves, a store carries an identity from its creation, and nothing but `token put`/`token import` on
/// a new vault or an explicit `state init` creates a store (issue 10, point 1).
@Suite struct StoreBindingTests {
    @Test func runOnADeletedStoreExitsThreeNamingStoreAndVaultAndCreatesNothing() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder, maxKeyAge: "0s", keepVersions: 0)
            world.removeStore()
            let vaultBefore = try StateWorld.snapshot(world.vault)
            let run = try world.run(["run", "nightly.yml"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stderr.contains(world.store) && run.stderr.contains(world.vault), "\(run.stderr)")
            #expect(!PrivateFiles.exists(world.store))
            #expect(try StateWorld.snapshot(world.vault) == vaultBefore)
        }
    }

    @Test func runOnATruncatedStoreExitsThreeAndLeavesItAsItWas() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder, maxKeyAge: "0s", keepVersions: 0)
            world.removeStore()
            let created = open(world.store, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            close(created)
            let vaultBefore = try StateWorld.snapshot(world.vault)
            let run = try world.run(["run", "nightly.yml"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stderr.contains(world.store) && run.stderr.contains("empty"), "\(run.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: world.store)).isEmpty)
            #expect(try StateWorld.snapshot(world.vault) == vaultBefore)
        }
    }

    @Test func runOnAnotherVaultsStoreExitsThreeNamingBoth() throws {
        try withTemporaryDirectory { folder in
            try FileManager.default.createDirectory(atPath: folder + "/a", withIntermediateDirectories: false)
            try FileManager.default.createDirectory(atPath: folder + "/b", withIntermediateDirectories: false)
            let world = try StateWorld(folder + "/a", maxKeyAge: "0s", keepVersions: 0)
            let other = try StateWorld(folder + "/b")
            world.removeStore()
            try FileManager.default.copyItem(atPath: other.store, toPath: world.store)
            let before = try StateWorld.snapshot(world.state).filter { !$0.key.hasSuffix(".lock") }
            let run = try world.run(["run", "nightly.yml"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(
                run.stderr.contains(world.store) && run.stderr.contains(world.vault)
                    && run.stderr.contains("serves store"),
                "\(run.stderr)")
            let after = try StateWorld.snapshot(world.state).filter { !$0.key.hasSuffix(".lock") }
            #expect(after.keys.sorted() == before.keys.sorted())
            #expect(after.filter { before[$0.key] != $0.value }.keys.sorted() == [])
        }
    }

    /// The mistake of the issue: runs on a missing store used to add versions and purge the ones the real
    /// tokens need, so restoring the store brought nothing back.
    @Test func restoringTheStoreAfterRunsOnAMissingOneBringsEveryTokenBack() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 3)
            try fixture.spec(
                JobFixture.header + """
                    stages:
                      - name: rotate-keys
                        kind: rotate
                        tenants: all
                        max_key_age: 30d
                        keep_versions: 0
                    """)
            try FileManager.default.copyItem(atPath: fixture.storePath, toPath: folder + "/backup.db")
            unlink(fixture.storePath)
            for _ in 0..<2 {
                let run = try runTokenKeeper(
                    ["run", "job.yml"], environment: fixture.environment, workingDirectory: folder)
                #expect(run.status == 3, "\(run.stderr)")
            }
            for suffix in ["", "-wal", "-shm"] { unlink(fixture.storePath + suffix) }
            try FileManager.default.copyItem(atPath: folder + "/backup.db", toPath: fixture.storePath)
            #expect(try fixture.versions("t1") == [1])
            #expect(try fixture.verifyEveryToken() == 6)
        }
    }

    @Test func noCommandButTokenPutAndImportCreatesAStore() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let store = folder + "/tokens.db"
            let key = ["--tenant", "t1", "--user", "u1", "--provider", "entra"]
            for arguments in [
                ["token", "list"], ["status"], ["token", "show"] + key, ["token", "delete"] + key,
                ["token", "drop-refresh-token"] + key,
            ] {
                let result = try workspace.run(arguments)
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(
                    result.stderr.contains(store) && result.stderr.contains("state init"),
                    "\(arguments): \(result.stderr)")
                #expect(!PrivateFiles.exists(store), "\(arguments) created the store")
            }
        }
    }

    @Test func jobsAndTokenUseNeverCreateAStore() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            world.removeStore()
            for arguments in [
                ["run", "nightly.yml"], ["run", "nightly.yml", "--dry-run"], ["plan", "nightly.yml"],
                ["status", "--spec", "nightly.yml"],
                [
                    "token", "access", "--spec", "nightly.yml", "--tenant", "contoso-0001", "--user", "carol",
                    "--provider", "entra",
                ],
            ] {
                let result = try world.run(arguments)
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(result.stderr.contains(world.store), "\(arguments): \(result.stderr)")
                #expect(!PrivateFiles.exists(world.store), "\(arguments) created the store")
            }
        }
    }

    @Test func tokenPutCreatesTheStoreOfANewVaultButNeverReplacesOneThatHeldTokens() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let store = folder + "/tokens.db"
            let key = ["--tenant", "t1", "--user", "u1", "--provider", "entra"]
            #expect(try workspace.run(["token", "put"] + key, stdin: "rt-first").status == 0)
            #expect(PrivateFiles.exists(store))
            for suffix in ["", "-wal", "-shm"] { unlink(store + suffix) }
            let again = try workspace.run(
                ["token", "put", "--tenant", "t2", "--user", "u2", "--provider", "entra"], stdin: "rt-second")
            #expect(again.status == 3, "\(again.stderr)")
            #expect(again.stderr.contains(store) && again.stderr.contains(folder + "/vault"), "\(again.stderr)")
            #expect(!PrivateFiles.exists(store))
            let imported = try workspace.run(
                ["token", "import", "--provider", "entra"],
                stdin: #"{"refresh_token":"rt-i","id_token":"\#(JWTFixture.idToken(["tid": "t3", "oid": "o"]))"}"#)
            #expect(imported.status == 3, "\(imported.stderr)")
            #expect(!PrivateFiles.exists(store))
        }
    }

    @Test func stateInitCreatesTheStoreANewVaultServesAndNeverOverwritesOne() throws {
        try withTemporaryDirectory { folder in
            let workspace = try CommandLineEndToEndTests.Workspace(folder)
            let store = folder + "/tokens.db"
            let created = try workspace.run(["state", "init"])
            #expect(created.status == 0, "\(created.stderr)")
            #expect(try FileManager.default.attributesOfItem(atPath: store)[.posixPermissions] as? Int == 0o600)
            let list = try workspace.run(["token", "list"])
            #expect(list.status == 0 && list.stdout.contains("(none)"), "\(list.stderr)")
            let before = try Data(contentsOf: URL(fileURLWithPath: store))
            let again = try workspace.run(["state", "init"])
            #expect(again.status == 2 && again.stderr.contains("exists"), "\(again.stderr)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: store)) == before)
        }
    }

    @Test func stateInitReplacesALostStoreThatHeldTokensOnlyWhenToldTo() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            world.removeStore()
            let refused = try world.run(["state", "init", "--spec", "nightly.yml"])
            #expect(refused.status == 2 && refused.stderr.contains("--replace"), "\(refused.stderr)")
            #expect(!PrivateFiles.exists(world.store))
            let replaced = try world.run(["state", "init", "--spec", "nightly.yml", "--replace"])
            #expect(replaced.status == 0, "\(replaced.stderr)")
            let run = try world.run(["run", "nightly.yml"])
            #expect(run.status == 0, "\(run.stderr)")
        }
    }
}

import Foundation
import Testing

@testable import Report
@testable import Vault

/// Files tokenkeeper creates or writes are never reached through a planted symbolic link, and the
/// folder that holds the store and the lock files must not be writable by group or others
/// (issue 10, point 2).
@Suite struct StateFolderTests {
    /// A file outside the state that a local attacker wants root's next run to destroy.
    static func victim(in folder: String) throws -> String {
        let path = folder + "/victim.txt"
        try Data("precious content\n".utf8).write(to: URL(fileURLWithPath: path))
        // private, so no permission check refuses it by accident: only not following the link protects it
        chmod(path, 0o600)
        return path
    }

    @Test(arguments: ["tokens.db.lock", "vault.lock"])
    func lockFilePlantedAsASymlinkIsNotFollowedEvenByADryRun(lockName: String) throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let victim = try Self.victim(in: folder)
            unlink(world.state + "/" + lockName)
            #expect(symlink(victim, world.state + "/" + lockName) == 0)
            let run = try world.run(["run", "nightly.yml", "--dry-run"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stderr.contains(lockName) && run.stderr.contains("symbolic link"), "\(run.stderr)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious content\n")
        }
    }

    @Test func lockFilePlantedAsAHardLinkIsNotWritten() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let victim = try Self.victim(in: folder)
            unlink(world.store + ".lock")
            #expect(link(victim, world.store + ".lock") == 0)
            let run = try world.run(["run", "nightly.yml", "--dry-run"])
            #expect(run.status == 3, "\(run.stderr)")
            #expect(run.stderr.contains("tokens.db.lock") && run.stderr.contains("hard link"), "\(run.stderr)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious content\n")
        }
    }

    @Test func auditLogPlantedAsASymlinkIsNotFollowed() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let victim = try Self.victim(in: folder)
            unlink(fixture.path + "/audit.log")
            #expect(symlink(victim, fixture.path + "/audit.log") == 0)
            #expect(throws: (any Error).self) { _ = try fixture.open().createSecret("t1") }
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious content\n")
        }
    }

    @Test func storeWALPlantedAsASymlinkIsNotFollowed() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let victim = try Self.victim(in: folder)
            unlink(world.store + "-wal")
            unlink(world.store + "-shm")
            #expect(symlink(victim, world.store + "-wal") == 0)
            let put = try world.run(
                ["token", "put", "--tenant", "t9", "--user", "u9", "--provider", "entra"], stdin: "rt-nine")
            #expect(put.status == 3, "\(put.stderr)")
            #expect(put.stderr.contains("tokens.db-wal") && put.stderr.contains("symbolic link"), "\(put.stderr)")
            #expect(try String(contentsOfFile: victim, encoding: .utf8) == "precious content\n")
        }
    }

    @Test func stateFolderWritableByGroupOrOthersIsRefused() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            for mode: mode_t in [0o770, 0o703] {
                chmod(world.state, mode)
                for arguments in [["run", "nightly.yml", "--dry-run"], ["token", "list"]] {
                    let result = try world.run(arguments)
                    #expect(result.status == 3, "\(arguments) \(String(mode, radix: 8)): \(result.stderr)")
                    // The folder as the command was given it: the spec's absolute path, or --store's ./state.
                    #expect(
                        (result.stderr.contains(world.state) || result.stderr.contains("./state"))
                            && result.stderr.contains("chmod go-w"),
                        "\(result.stderr)")
                }
            }
        }
    }

    @Test func stateFolderThatIsASymlinkIsJudgedByItsTarget() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            #expect(rename(world.state, folder + "/mounted-state") == 0)
            #expect(symlink(folder + "/mounted-state", world.state) == 0)
            let run = try world.run(["run", "nightly.yml"])
            #expect(run.status == 0, "\(run.stderr)")
            chmod(folder + "/mounted-state", 0o777)
            let refused = try world.run(["run", "nightly.yml", "--dry-run"])
            #expect(refused.status == 3 && refused.stderr.contains("chmod go-w"), "\(refused.stderr)")
        }
    }
}

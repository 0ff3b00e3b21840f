import Foundation
import Testing

@testable import Report

/// Root (or anyone) running tokenkeeper over state that belongs to another user is refused, naming
/// the owner and how to run as them, so the service's files never become root-owned (issue 10, point 10).
/// Needs root to give the state to another uid, as CI runs the tests.
@Suite(.enabled(if: geteuid() == 0, "only root can give the state to another user"))
struct ForeignOwnerTests {
    /// `nobody`, a user that exists everywhere.
    static let otherUser: uid_t = 65_534

    @Test func runOverAnotherUsersStateIsRefusedAndEveryOwnerStaysAsItWas() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder, maxKeyAge: "0s")
            StateWorld.chownRecursively(world.state, to: Self.otherUser, group: Self.otherUser)
            let owners = StateWorld.owners(world.state)
            let before = try StateWorld.snapshot(world.state)
            for arguments in [
                ["run", "nightly.yml"], ["token", "put", "--tenant", "t9", "--user", "u9", "--provider", "entra"],
                ["status"], ["token", "list"],
            ] {
                let result = try world.run(arguments, stdin: "rt-nine")
                #expect(result.status == 3, "\(arguments): \(result.stderr)")
                #expect(
                    result.stderr.contains("uid 65534") && result.stderr.contains("sudo -u"),
                    "\(arguments): \(result.stderr)")
            }
            #expect(StateWorld.owners(world.state) == owners)
            #expect(try StateWorld.snapshot(world.state) == before)
        }
    }

    @Test func oneFileOfAnotherUserInsideTheVaultIsRefusedNamingIt() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let secret = world.vault + "/secrets/contoso-0001.json"
            #expect(lchown(secret, Self.otherUser, Self.otherUser) == 0)
            let result = try world.run(["run", "nightly.yml", "--dry-run"])
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains(secret) && result.stderr.contains("uid 65534"), "\(result.stderr)")
        }
    }
}

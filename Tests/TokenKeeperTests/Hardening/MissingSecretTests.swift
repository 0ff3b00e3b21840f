import Foundation
import Testing

@testable import Report
@testable import Support

/// A tenant whose stored tokens name a secret the vault no longer has is a failure, never passed
/// over, and `token put` never makes a new secret those tokens cannot open (issue 10, point 9).
@Suite struct MissingSecretTests {
    /// The nightly world with fabrikam-0002's secret file gone (a bad restore, a lost file).
    static func worldWithoutFabrikamSecret(_ folder: String) throws -> StateWorld {
        let world = try StateWorld(folder, maxKeyAge: "0s")
        #expect(unlink(world.vault + "/secrets/fabrikam-0002.json") == 0)
        return world
    }

    @Test func runFailsTheTenantAsNotFoundAndStillRotatesTheOthers() throws {
        try withTemporaryDirectory { folder in
            let world = try Self.worldWithoutFabrikamSecret(folder)
            let run = try world.run(["run", "nightly.yml", "--stage", "rotate-keys"])
            #expect(run.status == 1, "\(run.stderr)")
            let xml = try String(contentsOfFile: folder + "/reports/nightly.xml", encoding: .utf8)
            #expect(xml.contains("name=\"fabrikam-0002\"") && xml.contains("<failure type=\"not_found\""), "\(xml)")
            #expect(try world.reveal(tenant: "contoso-0001", user: "carol") == "rt-carol-value")
            #expect(!PrivateFiles.exists(world.vault + "/secrets/fabrikam-0002.json"))
        }
    }

    @Test func planFailsTheTenantToo() throws {
        try withTemporaryDirectory { folder in
            let world = try Self.worldWithoutFabrikamSecret(folder)
            let plan = try world.run(["plan", "nightly.yml"])
            #expect(plan.status == 1, "\(plan.stderr)")
            #expect(plan.stdout.contains("! fabrikam-0002:"), "\(plan.stdout)")
        }
    }

    @Test func statusFailsForTheTenantAsNotFound() throws {
        try withTemporaryDirectory { folder in
            let world = try Self.worldWithoutFabrikamSecret(folder)
            for arguments in [
                ["status", "--vault", world.vault, "--store", world.store], ["status", "--spec", "nightly.yml"],
            ] {
                let status = try world.run(arguments)
                #expect(status.status == 1, "\(arguments): \(status.stderr)")
                #expect(
                    status.stderr.contains("fabrikam-0002") && status.stderr.contains("not_found"), "\(status.stderr)")
                #expect(status.stdout.contains("contoso-0001: key version 1"), "\(status.stdout)")
            }
        }
    }

    @Test func tokenPutRefusesToCreateASecretWhileTokensNameTheMissingOne() throws {
        try withTemporaryDirectory { folder in
            let world = try Self.worldWithoutFabrikamSecret(folder)
            let put = try world.run(
                ["token", "put", "--tenant", "fabrikam-0002", "--user", "erin", "--provider", "entra"], stdin: "rt-erin"
            )
            #expect(put.status == 1, "\(put.stderr)")
            #expect(put.stderr.contains("fabrikam-0002") && put.stderr.contains("1 token"), "\(put.stderr)")
            #expect(!PrivateFiles.exists(world.vault + "/secrets/fabrikam-0002.json"))
        }
    }

    @Test func tenantWhoseRowsHoldNoTokenGetsANewSecret() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            let bob = ["--tenant", "fabrikam-0002", "--user", "bob", "--provider", "entra"]
            #expect(try world.run(["token", "drop-refresh-token"] + bob).status == 0)
            #expect(try world.run(["vault", "secret", "delete", "fabrikam-0002"]).status == 0)
            #expect(try world.run(["vault", "secret", "purge", "fabrikam-0002"]).status == 0)
            let put = try world.run(["token", "put"] + bob, stdin: "rt-back")
            #expect(put.status == 0, "\(put.stderr)")
            #expect(try world.reveal(tenant: "fabrikam-0002", user: "bob") == "rt-back")
        }
    }

    @Test func tenantReturningAfterACryptoShredGetsANewSecret() throws {
        try withTemporaryDirectory { folder in
            let world = try StateWorld(folder)
            try FileManager.default.copyItem(
                atPath: TestEnvironment.packageRoot + "/examples/offboard-tenant.yml",
                toPath: folder + "/offboard-tenant.yml")
            let text = try String(contentsOfFile: folder + "/offboard-tenant.yml", encoding: .utf8)
                .replacingOccurrences(of: "purge: false", with: "purge: true")
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/offboard-tenant.yml"))
            let shred = try world.run(["run", "offboard-tenant.yml"])
            #expect(shred.status == 0, "\(shred.stderr)")
            let put = try world.run(
                ["token", "put", "--tenant", "fabrikam-0002", "--user", "bob", "--provider", "entra"], stdin: "rt-back")
            #expect(put.status == 0, "\(put.stderr)")
            #expect(try world.reveal(tenant: "fabrikam-0002", user: "bob") == "rt-back")
        }
    }
}

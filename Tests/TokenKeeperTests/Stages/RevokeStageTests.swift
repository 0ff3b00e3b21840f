import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Vault

@Suite struct RevokeStageTests {
    static func spec(_ stage: String) -> String {
        JobFixture.header + "stages:\n  - name: offboard\n    kind: revoke\n" + stage
    }

    @Test func deleteRecordRemovesEveryRowOfTheUserAndLeavesOthers() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1, provider: "google")
            let report = try await fixture.run(
                try fixture.spec(Self.spec("    users: [t1/u0]\n    mode: delete-record\n")))
            let stage = try #require(report.stages.first)
            #expect(stage.result == .passed)
            #expect(stage.count(.usersRevoked) == 1)
            #expect(stage.count(.rowsDeleted) == 2)
            let store = try SQLiteTokenStore(path: fixture.storePath)
            #expect(try store.get(TokenKey(tenant: "t1", user: "u0", provider: "entra")) == nil)
            #expect(try store.get(TokenKey(tenant: "t1", user: "u0", provider: "google")) == nil)
            #expect(try store.count() == 2)
        }
    }

    @Test func dropRefreshTokenKeepsTheRecordAsRevoked() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            try await fixture.run(try fixture.spec(Self.spec("    users: [t1/u1]\n    mode: drop-refresh-token\n")))
            let row = try #require(
                try SQLiteTokenStore(path: fixture.storePath).get(TokenKey(tenant: "t1", user: "u1", provider: "entra"))
            )
            #expect(row.sealedToken == nil)
            #expect(row.status == .revoked)
            #expect(try fixture.verifyEveryToken() == 1)
        }
    }

    @Test func revokingWhatIsAlreadyGonePassesAsAlreadyRevoked() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            let spec = try fixture.spec(Self.spec("    users: [t1/u0, t1/nobody]\n    tenants: [gone]\n"))
            let first = try #require(try await fixture.run(spec).stages.first)
            #expect(first.count(.usersRevoked) == 1)
            #expect(first.count(.usersAlreadyRevoked) == 1)
            #expect(first.case("gone")?.message == "already revoked")
            let second = try #require(try await fixture.run(spec).stages.first)
            #expect(second.result == .passed)
            #expect(second.count(.usersRevoked) == 0)
            #expect(second.count(.usersAlreadyRevoked) == 2)
            #expect(second.summary.contains("already revoked"))
        }
    }

    @Test func usersFileLinesAreRevoked() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 2)
            try Data("# offboarded\nt1 u0\n\nt2 u1\n".utf8).write(to: URL(fileURLWithPath: folder + "/gone.txt"))
            let stage = try #require(
                try await fixture.run(try fixture.spec(Self.spec("    users_file: ./gone.txt\n"))).stages.first)
            #expect(stage.count(.usersRevoked) == 2)
            #expect(try SQLiteTokenStore(path: fixture.storePath).count() == 2)
        }
    }

    @Test func tenantIsCryptoShreddedThenPurgedWhenAsked() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 3)
            let spec = try fixture.spec(Self.spec("    tenants: [t1]\n    purge: true\n"))
            let stage = try #require(try await fixture.run(spec).stages.first)
            #expect(stage.case("t1")?.status == .passed)
            #expect(stage.count(.rowsDeleted) == 3)
            let vault = try fixture.custodian().vault
            #expect(try vault.secretState("t1") == .absent)
            #expect(try vault.secretState("t2") == .active)
            #expect(try fixture.verifyEveryToken() == 3)
            #expect(try #require(try await fixture.run(spec).stages.first).case("t1")?.message == "already revoked")
        }
    }

    @Test func softDeletedTenantMakesEveryTokenUnreadableAtOnce() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            // Keep the rows (as if the job died after the secret was deleted) to show they are unreadable.
            let custodian = try fixture.custodian()
            try custodian.vault.deleteSecret("t1")
            #expect(throws: VaultError.self) {
                try custodian.open(TokenKey(tenant: "t1", user: "u0", provider: "entra"))
            }
            let stage = try #require(
                try await fixture.run(try fixture.spec(Self.spec("    tenants: [t1]\n"))).stages.first)
            #expect(stage.case("t1")?.message == "2 rows deleted")
            #expect(try fixture.custodian().vault.secretState("t1") == .softDeleted)
        }
    }

    @Test func tenantThatCannotBeRevokedFailsAndTheUsersStillGo() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            try fixture.custodian().vault.setPolicy(for: "reader", permissions: [.get, .list])
            let spec = try fixture.spec(
                Self.spec("    users: [t1/u0]\n    tenants: [t1]\n").replacingOccurrences(
                    of: "principal: pipeline", with: "principal: reader"))
            let stage = try #require(try await fixture.run(spec).stages.first)
            let tenantCase = try #require(stage.cases.first { $0.name == "t1" })
            #expect(tenantCase.status == .failed)
            #expect(tenantCase.failureType == .policyDenied)
            #expect(tenantCase.message.contains("delete"))
            #expect(stage.result == .failed)
            #expect(stage.count(.usersRevoked) == 1)
            #expect(try SQLiteTokenStore(path: fixture.storePath).count() == 1)
        }
    }
}

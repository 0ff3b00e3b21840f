import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

/// The migration of rows from the old format (sealed directly under a tenant key) to envelope
/// encryption: never on open, by the rotate stage or `state migrate`; both formats read meanwhile.
@Suite struct EnvelopeMigrationTests {
    @Test func schemaFourStoreWithOldRowsIsMigratedByTheRotateStageNotByOpeningIt() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seedInOldFormat(tenants: ["t1", "t2"], usersPerTenant: 5)
            try fixture.downgradeStoreToSchema4()
            // Opening for writing adds the table, but migrates no row: that needs the keys.
            _ = try SQLiteTokenStore(path: fixture.storePath)
            #expect(try fixture.formatCounts() == (old: 10, envelope: 0))
            let report = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll))
            #expect(report.exitStatus == .success)
            let stage = try #require(report.stages.first)
            let message = try #require(stage.case("t1")?.message)
            #expect(message.contains("migrated 5 tokens to envelope encryption (version 2)"), "\(message)")
            #expect(stage.count(.tokensMigrated) == 10)
            #expect(try fixture.formatCounts() == (old: 0, envelope: 10))
            #expect(try fixture.verifyEveryToken() == 10)
            #expect(try fixture.versionCounts("t1") == [2: 5])
        }
    }

    @Test func tenantWithUpToDateKeyStillHasItsOldRowsMigrated() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder, keyAge: 86_400)
            try fixture.seedInOldFormat(tenants: ["t1"], usersPerTenant: 3)
            let spec = try fixture.spec(RotateStageTests.rotateAll)
            let dry = try await fixture.run(spec, dryRun: true)
            let planned = try #require(dry.stages.first?.case("t1")?.message)
            #expect(planned.contains("would migrate 3 tokens to envelope encryption"), "\(planned)")
            _ = try await fixture.run(spec)
            #expect(try fixture.formatCounts() == (old: 0, envelope: 3))
            #expect(try fixture.versionCounts("t1") == [1: 3])
            let again = try await fixture.run(spec)
            #expect(again.stages.first?.case("t1")?.message.hasPrefix("up to date") == true)
        }
    }

    @Test func halfMigratedStoreServesTokenUseAndDryRuns() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seedInOldFormat(tenants: ["t1"], usersPerTenant: 4)
            // Two rows move to the new format (as a killed migration leaves them).
            let custodian = try fixture.custodian()
            for user in ["u0", "u1"] {
                let key = TokenKey(tenant: "t1", user: user, provider: "entra")
                try custodian.put(key, token: JobFixture.token(for: key), issuedAt: fixture.origin, expiresAt: nil)
            }
            #expect(try fixture.formatCounts() == (old: 2, envelope: 2))
            #expect(try fixture.verifyEveryToken() == 4)
            let store = try SQLiteTokenStore(path: fixture.storePath)
            #expect(try store.oldFormatCounts() == ["t1": 2])
            #expect(try store.keptKeyVersionRows() == (try store.recountedKeyVersionRows()))
            let before = try fixture.stateSnapshot()
            let dry = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll), dryRun: true)
            let message = try #require(dry.stages.first?.case("t1")?.message)
            // Each row counts once: the 2 old-format rows are migrated to the new version (not also
            // rewrapped), the 2 envelope rows are rewrapped; 4 tokens in all, as the store holds.
            #expect(message.contains("migrate 2 tokens") && message.contains("rewrap 2 tokens"), "\(message)")
            #expect(dry.stages.first?.count(.tokensToRewrap) == 4)
            #expect(try fixture.stateSnapshot() == before)
        }
    }

    @Test func readOnlyOpenOfASchemaFourStoreReadsItsRowsAndWritesNothing() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seedInOldFormat(tenants: ["t1"], usersPerTenant: 3)
            try fixture.downgradeStoreToSchema4()
            let before = try fixture.stateSnapshot()
            do {
                let store = try SQLiteTokenStore(path: fixture.storePath, readOnly: true)
                #expect(try store.count() == 3)
                #expect(try store.oldFormatCounts() == ["t1": 3])
                let vault = try FileVault.open(
                    at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline", readOnly: true)
                let key = TokenKey(tenant: "t1", user: "u2", provider: "entra")
                #expect(
                    try TokenCustodian(vault: vault, store: store).open(key).revealed
                        == JobFixture.token(for: key).revealed)
            }
            let dry = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll), dryRun: true)
            #expect(dry.exitStatus == .success)
            #expect(dry.stages.first?.case("t1")?.message.contains("would") == true)
            let after = try fixture.stateSnapshot()
            #expect(
                after == before,
                "changed: \(Set(after.keys).union(before.keys).filter { after[$0] != before[$0] }.sorted())")
        }
    }

    @Test func stateMigrateMovesEveryOldRowAndASecondRunHasNothingToDo() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seedInOldFormat(tenants: ["t1", "t2"], usersPerTenant: 7)
            _ = try fixture.spec(RotateStageTests.rotateAll)
            let first = try runTokenKeeper(
                ["state", "migrate", "--spec", folder + "/job.yml", "--batch-size", "3"],
                environment: fixture.environment)
            #expect(first.status == 0, "\(first.stderr)")
            #expect(first.stderr.contains("Migrated 14 tokens"), "\(first.stderr)")
            #expect(first.stderr.contains("longest store write"), "\(first.stderr)")
            #expect(try fixture.formatCounts() == (old: 0, envelope: 14))
            #expect(try fixture.versionCounts("t1") == [1: 7])
            #expect(try fixture.verifyEveryToken() == 14)
            let store = try SQLiteTokenStore(path: fixture.storePath)
            #expect(try store.keptKeyVersionRows() == (try store.recountedKeyVersionRows()))
            let second = try runTokenKeeper(
                ["state", "migrate", "--spec", folder + "/job.yml"], environment: fixture.environment)
            #expect(second.status == 0 && second.stderr.contains("Migrated 0 tokens"), "\(second.stderr)")
        }
    }
}

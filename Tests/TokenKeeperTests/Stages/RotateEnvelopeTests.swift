import Foundation
import Testing

@testable import Report
@testable import Store
@testable import Support

/// What a rotation over envelope encryption adds to the stage: `reseal: true` (the full rewrite), and
/// how long it held the store, measured and reported (issue 14, points 3 and 4).
@Suite struct RotateEnvelopeTests {
    @Test func resealGivesEveryTokenAFreshDataKeyAndCiphertextAndTheReportSaysSo() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder, keyAge: 86_400)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "entra")
            let before = try #require(try SQLiteTokenStore(path: fixture.storePath).get(key))
            let spec = try fixture.spec(RotateStageTests.rotateAll + "\n    reseal: true\n")
            let report = try await fixture.run(spec)
            #expect(report.exitStatus == .success)
            let stage = try #require(report.stages.first)
            let message = try #require(stage.case("t1")?.message)
            #expect(message.contains("resealed 3 tokens under fresh data keys"), "\(message)")
            #expect(stage.summary.contains("3 resealed under fresh data keys"), "\(stage.summary)")
            #expect(stage.count(.tokensResealed) == 3)
            let after = try #require(try SQLiteTokenStore(path: fixture.storePath).get(key))
            #expect(after.sealedToken != before.sealedToken, "the token is sealed again")
            #expect(after.wrappedKey != before.wrappedKey)
            #expect(after.keyVersion == 1, "the key was young: no new version, the tokens resealed under it")
            #expect(try fixture.verifyEveryToken() == 3)
        }
    }

    @Test func withoutResealARotationOfAYoungKeyChangesNoToken() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder, keyAge: 86_400)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let before = try fixture.stateSnapshot()
            let report = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll))
            #expect(report.stages.first?.count(.tokensResealed) == 0)
            #expect(try fixture.stateSnapshot()["tokens.db"] == before["tokens.db"])
        }
    }

    @Test func rotationMeasuresAndReportsItsLongestStoreWriteAndCheckpoint() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 20)
            let report = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll), reportDirectory: folder)
            let stage = try #require(report.stages.first)
            // 40 rows in batches of 7: six rewrap transactions, each timed; the checkpoints between batches
            // and the durable one before version 1 is purged, timed too.
            #expect(stage.count(.writeTransactions) == 6)
            #expect(stage.count(.longestWriteMicroseconds) > 0)
            #expect(stage.count(.longestCheckpointMicroseconds) > 0)
            #expect(stage.summary.contains("longest store write"), "\(stage.summary)")
            #expect(stage.summary.contains("longest checkpoint"), "\(stage.summary)")
            #expect(stage.log.contains { $0.hasPrefix("store held: 6 write transactions, longest ") }, "\(stage.log)")
        }
    }
}

import Foundation
import Testing

@testable import Crypto
@testable import Custody
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

@Suite struct RotateStageTests {
    static let rotateAll =
        JobFixture.header + """
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
                keep_versions: 1
                batch_size: 7
            """

    @Test func dueTenantGetsANewVersionAndEveryTokenIsRewrappedAndStillOpens() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2"], usersPerTenant: 20)
            let report = try await fixture.run(try fixture.spec(Self.rotateAll))
            let stage = try #require(report.stages.first)
            #expect(stage.result == .passed)
            #expect(stage.count(.tokensRewrapped) == 40)
            #expect(stage.count(.versionsAdded) == 2)
            #expect(try fixture.versionCounts("t1") == [2: 20])
            #expect(try fixture.versions("t1") == [1, 2])
            #expect(try fixture.verifyEveryToken() == 40)
            #expect(stage.case("t1")?.message.contains("added key version 2") == true)
        }
    }

    @Test func secondRunTheSameDayChangesNothingAndSaysUpToDate() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 5)
            let spec = try fixture.spec(Self.rotateAll)
            try await fixture.run(spec)
            let before = try fixture.stateSnapshot().filter {
                !$0.key.hasPrefix("vault/audit.log") && !$0.key.hasPrefix("tokens.db")
            }
            let rowsBefore = try Self.rows(fixture)
            let again = try await fixture.run(spec)
            let stage = try #require(again.stages.first)
            #expect(stage.summary.hasPrefix("up to date"))
            #expect(stage.case("t1")?.message.hasPrefix("up to date") == true)
            #expect(stage.count(.tokensRewrapped) == 0)
            let after = try fixture.stateSnapshot().filter {
                !$0.key.hasPrefix("vault/audit.log") && !$0.key.hasPrefix("tokens.db")
            }
            #expect(before == after)
            // The store's rows too: the same key versions, the same sealed tokens (no reseal), the same bookkeeping.
            #expect(try Self.rows(fixture) == rowsBefore)
            #expect(try fixture.versionCounts("t1") == [2: 5])
        }
    }

    /// Every row of the fixture's store, in id order.
    static func rows(_ fixture: JobFixture) throws -> [StoredToken] {
        var rows: [StoredToken] = []
        try SQLiteTokenStore(path: fixture.storePath).forEach {
            rows.append($0); return true
        }
        return rows.sorted { $0.id < $1.id }
    }

    @Test func versionsBeyondKeepVersionsAreDisabledThenPurgedOnceNoTokenUsesThem() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let spec = try fixture.spec(Self.rotateAll)
            try await fixture.run(spec)  // version 2; version 1 kept (keep_versions: 1)
            #expect(try fixture.versions("t1") == [1, 2])
            // version 3; version 1 goes
            let later = try await fixture.run(spec, at: Date().addingTimeInterval(31 * 86_400))
            #expect(try fixture.versions("t1") == [2, 3])
            let stage = try #require(later.stages.first)
            #expect(stage.count(.versionsPurged) == 1)
            #expect(stage.count(.versionsDisabled) == 1)
            #expect(try fixture.versionCounts("t1") == [3: 3])
            #expect(try fixture.verifyEveryToken() == 3)
        }
    }

    @Test func aVersionIsNotPurgedUntilTheRowsMovedOffItAreDurable() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let spec = try fixture.spec(Self.rotateAll)
            try await fixture.run(spec)  // version 2; version 1 kept
            let later = Date().addingTimeInterval(31 * 86_400)
            // A reader holds a snapshot from before the next rotation, so no full checkpoint can sync its rows.
            let reader = try SQLiteConnection(path: fixture.storePath)
            try reader.execute("BEGIN")
            #expect(try reader.scalar("SELECT count(*) FROM tokens") == 3)
            let blocked = try await fixture.run(spec, at: later)
            try reader.execute("COMMIT")
            let failure = try #require(blocked.stages.first?.case("t1"))
            #expect(failure.status == .failed)
            #expect(failure.failureType == .transient)
            #expect(failure.code == "store_busy")
            #expect(try fixture.versions("t1") == [1, 2, 3])  // version 1 stays: nothing depends on unsynced rows
            #expect(try fixture.verifyEveryToken() == 3)
            // The next run, with the reader gone, finishes the step it skipped.
            let finished = try await fixture.run(spec, at: later)
            #expect(finished.stages.first?.case("t1")?.status == .passed)
            #expect(try fixture.versions("t1") == [2, 3])
        }
    }

    /// A rotation rewraps data keys and never reads a token, so the damage it can meet is a wrapped key
    /// that does not unwrap (a damaged token is found when it is used, or by a reseal).
    @Test func aDataKeyThatDoesNotUnwrapIsAFailedItemAndItsVersionIsKept() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 4)
            let store = try SQLiteTokenStore(path: fixture.storePath)
            let victim = TokenKey(tenant: "t1", user: "u2", provider: "entra")
            var row = try #require(try store.get(victim))
            row.wrappedKey![20] ^= 0x01
            try store.put(row)
            let spec = try fixture.spec(
                Self.rotateAll.replacingOccurrences(of: "keep_versions: 1", with: "keep_versions: 0"))
            let report = try await fixture.run(spec)
            let stage = try #require(report.stages.first)
            #expect(stage.result == .failed)
            #expect(report.exitStatus == .itemsFailed)
            let item = try #require(stage.case("t1/u2/entra"))
            #expect(item.status == .failed)
            #expect(item.failureType == .crypto)
            #expect(stage.case("t1")?.status == .failed)
            #expect(stage.count(.tokensRewrapped) == 3)
            // keep_versions: 0 would purge version 1, but the damaged row still names it (I1).
            #expect(try fixture.versions("t1") == [1, 2])
            #expect(try fixture.versionCounts("t1") == [1: 1, 2: 3])
        }
    }

    @Test func listedTenantWithoutSecretOrTokensIsSkippedNotFailed() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1)
            let spec = try fixture.spec(
                Self.rotateAll.replacingOccurrences(of: "tenants: all", with: "tenants: [t1, ghost]"))
            let stage = try #require(try await fixture.run(spec).stages.first)
            #expect(stage.case("ghost")?.status == .skipped)
            #expect(stage.case("t1")?.status == .passed)
            #expect(stage.result == .passed)
        }
    }

    @Test func principalWithoutSetPermissionGetsPolicyDeniedPerTenant() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            try fixture.custodian().vault.setPolicy(for: "reader", permissions: [.get, .list])
            let spec = try fixture.spec(
                Self.rotateAll.replacingOccurrences(of: "principal: pipeline", with: "principal: reader"))
            let stage = try #require(try await fixture.run(spec).stages.first)
            let tenant = try #require(stage.case("t1"))
            #expect(tenant.status == .failed)
            #expect(tenant.failureType == .policyDenied)
            #expect(tenant.message.contains("set"))
            #expect(try fixture.verifyEveryToken() == 2)
        }
    }

    @Test func detailItemsListsEveryRewrappedToken() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let spec = try fixture.spec(Self.rotateAll + "\nreport:\n  detail: items\n")
            let stage = try #require(try await fixture.run(spec).stages.first)
            #expect(stage.cases.map(\.name).sorted() == ["t1", "t1/u0/entra", "t1/u1/entra", "t1/u2/entra"])
        }
    }
}

@Suite struct RotateWalkTests {
    @Test func fewDueTokensAreFoundThroughTheIndexAndOthersAreLeftAlone() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["small"], usersPerTenant: 3)
            try fixture.seed(tenants: ["big"], usersPerTenant: 40)
            let spec = try fixture.spec(
                RotateStageTests.rotateAll.replacingOccurrences(of: "tenants: all", with: "tenants: [small]"))
            let stage = try #require(try await fixture.run(spec).stages.first)
            #expect(stage.count(.tokensRewrapped) == 3)
            #expect(try fixture.versionCounts("small") == [2: 3])
            #expect(try fixture.versionCounts("big") == [1: 40])
            #expect(try fixture.verifyEveryToken() == 43)
        }
    }

    @Test func rotationMovesEveryOldVersionOfEveryDueTenantInEitherFormat() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["a", "b", "c"], usersPerTenant: 10)
            let spec = try fixture.spec(
                RotateStageTests.rotateAll.replacingOccurrences(of: "keep_versions: 1", with: "keep_versions: 2"))
            try await fixture.run(spec)
            // A month later, half of tenant a's tokens are put back on version 1 in the old format (as if a
            // restore from before envelope encryption), then rotate again: they are migrated, the rest rewrapped.
            let store = try SQLiteTokenStore(path: fixture.storePath)
            let custodian = try fixture.custodian()
            for index in 0..<5 {
                let key = TokenKey(tenant: "a", user: "u\(index)", provider: "entra")
                let context = try custodian.context(secret: "a", version: 1)
                let binding = TokenBinding.associatedData(for: key, secret: "a", keyVersion: 1)
                let plain = Array(JobFixture.token(for: key).revealed.utf8)
                let sealed = try plain.withUnsafeBytes { p in
                    try binding.withUnsafeBytes { try context.seal(p, associatedData: $0) }
                }
                #expect(
                    try store.replaceSealedTokens([
                        SealedTokenUpdate(
                            id: try #require(try store.get(key)).id, tenant: key.tenant, expectedKeyVersion: 2,
                            expectedWrappedKey: try #require(try store.get(key)).wrappedKey, newKeyVersion: 1,
                            sealedToken: sealed)
                    ]) == 1)
            }
            let stage = try #require(
                try await fixture.run(spec, at: Date().addingTimeInterval(31 * 86_400)).stages.first)
            #expect(stage.count(.tokensRewrapped) == 30)
            #expect(stage.count(.tokensMigrated) == 5)
            for tenant in ["a", "b", "c"] { #expect(try fixture.versionCounts(tenant) == [3: 10]) }
            #expect(try fixture.verifyEveryToken() == 30)
        }
    }
}

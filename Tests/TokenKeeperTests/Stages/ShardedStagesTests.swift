import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Spec
@testable import Stages
@testable import Store
@testable import Support
@testable import Vault

/// The stages over one shard of a job's tenants, run through the library on SQLite (the command line
/// refuses a sharded run there; the stages themselves work on any store): each tenant is touched by
/// exactly one of the N shards, and the N shards together do what one unsharded run does.
@Suite(.serialized) struct ShardedStagesTests {
    /// t1...t9 over 3 shards: shard 1 takes t4, t5, t7, t8; shard 2 t6; shard 3 t1, t2, t3, t9.
    static let tenants = (1...9).map { "t\($0)" }
    static let shardCount = 3

    static func shards() throws -> [TenantShard] {
        try (1...shardCount).map { try #require(TenantShard(index: $0, count: shardCount)) }
    }

    /// A context over the fixture's vault and store for `shard`.
    static func context(
        _ fixture: JobFixture, shard: TenantShard, dryRun: Bool = false, at date: Date = Date(),
        environment: [String: String] = [:]
    ) throws -> StageContext {
        let vault = try FileVault.open(
            at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline", readOnly: dryRun,
            clock: { date })
        let store = try SQLiteTokenStore(path: fixture.storePath, readOnly: dryRun)
        return StageContext(
            job: "test-job", vault: vault, store: store, dryRun: dryRun, detail: .items, progress: SilentProgress(),
            environment: fixture.environment.merging(environment) { _, new in new }, clock: { date },
            runID: "20451", shard: shard)
    }

    /// The tenant cases of a stage report (items are `tenant/user/provider`).
    static func tenantCases(_ stage: StageReport) -> [String] {
        stage.cases.map(\.name).filter { !$0.contains("/") }.sorted()
    }

    static let rotateStage =
        JobFixture.header + """
            stages:
              - name: rotate-keys
                kind: rotate
                tenants: all
                max_key_age: 30d
                keep_versions: 1
            """

    static func rotate(_ fixture: JobFixture) throws -> RotateStage {
        let spec = try fixture.spec(rotateStage)
        guard case .rotate(let options) = spec.stages[0].options else { throw CancellationError() }
        return RotateStage(name: "rotate-keys", options: options)
    }

    @Test func rotationOfEachShardTouchesOnlyItsTenantsAndTheShardsTogetherEqualAnUnshardedRun() async throws {
        try await withTemporaryDirectory { folder in
            let sharded = try JobFixture(folder: folder + "/sharded")
            let whole = try JobFixture(folder: folder + "/whole")
            for fixture in [sharded, whole] { try fixture.seed(tenants: Self.tenants, usersPerTenant: 3) }
            var covered: [String: Int] = [:]
            for shard in try Self.shards() {
                let stage = try Self.rotate(sharded).run(try Self.context(sharded, shard: shard))
                #expect(stage.result == .passed, "\(stage.cases)")
                let tenants = Self.tenantCases(stage)
                #expect(!tenants.isEmpty, "shard \(shard) has tenants")
                for tenant in tenants {
                    #expect(covered[tenant] == nil, "\(tenant) rotated by two shards")
                    covered[tenant] = shard.index
                    #expect(TenantShard.index(of: tenant, count: Self.shardCount) == shard.index)
                }
                // The tenants of the shards still to come are untouched: one key version, every token on it.
                for tenant in Self.tenants where TenantShard.index(of: tenant, count: Self.shardCount) > shard.index {
                    #expect(try sharded.versions(tenant) == [1], "\(tenant) touched by shard \(shard)")
                    #expect(try sharded.versionCounts(tenant) == [1: 3])
                }
            }
            #expect(covered.keys.sorted() == Self.tenants)
            let unsharded = try Self.rotate(whole).run(try Self.context(whole, shard: .whole))
            #expect(Self.tenantCases(unsharded) == Self.tenants)
            for tenant in Self.tenants {
                #expect(try sharded.versions(tenant) == whole.versions(tenant))
                #expect(try sharded.versionCounts(tenant) == whole.versionCounts(tenant))
                #expect(try sharded.versionCounts(tenant) == [2: 3])
            }
            #expect(try sharded.verifyEveryToken() == 27)
        }
    }

    static func revokeStage(_ fixture: JobFixture) throws -> RevokeStage {
        let spec = try fixture.spec(
            JobFixture.header + """
                stages:
                  - name: offboard
                    kind: revoke
                    tenants: [t1, t4, t6]
                    users: [t2/u0, t5/u1, t7/u0, t9/u2]
                    mode: delete-record
                """)
        guard case .revoke(let options) = spec.stages[0].options else { throw CancellationError() }
        return RevokeStage(name: "offboard", options: options)
    }

    /// Every row left, by key.
    static func rows(_ fixture: JobFixture) throws -> [String] {
        var keys: [String] = []
        try SQLiteTokenStore(path: fixture.storePath).forEach {
            keys.append($0.key.description); return true
        }
        return keys.sorted()
    }

    @Test func revocationOfEachShardRevokesOnlyItsTenantsAndUsersAndTheShardsTogetherEqualAnUnshardedRun()
        async throws
    {
        try await withTemporaryDirectory { folder in
            let sharded = try JobFixture(folder: folder + "/sharded")
            let whole = try JobFixture(folder: folder + "/whole")
            for fixture in [sharded, whole] { try fixture.seed(tenants: Self.tenants, usersPerTenant: 3) }
            var covered: [String: Int] = [:]
            for shard in try Self.shards() {
                let before = Set(try Self.rows(sharded))
                let stage = await try Self.revokeStage(sharded).run(try Self.context(sharded, shard: shard))
                #expect(stage.result == .passed, "\(stage.cases)")
                for tenant in Self.tenantCases(stage) {
                    #expect(covered[tenant] == nil, "\(tenant) revoked by two shards")
                    covered[tenant] = shard.index
                }
                // What this shard deleted belongs to its tenants only.
                let gone = before.subtracting(try Self.rows(sharded))
                #expect(!gone.isEmpty)
                for key in gone {
                    let tenant = String(key.split(separator: "/")[0])
                    #expect(shard.contains(tenant), "\(key) deleted by shard \(shard)")
                }
            }
            #expect(covered.keys.sorted() == ["t1", "t2", "t4", "t5", "t6", "t7", "t9"])
            _ = await try Self.revokeStage(whole).run(try Self.context(whole, shard: .whole))
            #expect(try Self.rows(sharded) == Self.rows(whole))
            #expect(try Self.rows(sharded).count == 27 - 9 - 4)
        }
    }

    @Test func aDryRunOfAShardPlansOnlyItsTenants() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: Self.tenants, usersPerTenant: 1)
            let shard = try #require(TenantShard(index: 2, count: 3))
            let before = try fixture.stateSnapshot()
            let stage = try Self.rotate(fixture).run(try Self.context(fixture, shard: shard, dryRun: true))
            #expect(Self.tenantCases(stage) == ["t6"])
            #expect(stage.summary.contains("1 tenant: would rotate 1"), "\(stage.summary)")
            #expect(try fixture.stateSnapshot() == before)
        }
    }

    // MARK: - Refresh, against the real identity provider

    @Test func refreshOfEachShardRedeemsOnlyItsTenantsTokensAndTheShardsTogetherRedeemEveryDueTokenOnce()
        async throws
    {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1, tenants: Self.tenants)
            guard case .refresh(let options) = try world.spec().stages[0].options else { throw CancellationError() }
            let provider = try world.spec().providers["local"]!
            var covered: [String: Int] = [:]
            for shard in try Self.shards() {
                let before = try await world.idp.stats()["redemptions"] ?? 0
                let stage = await RefreshStage(name: "refresh-tokens", options: options, provider: provider).run(
                    try Self.context(world.fixture, shard: shard, environment: world.environment))
                #expect(stage.result == .passed, "\(stage.cases)")
                let tenants = Self.tenantCases(stage)
                #expect(stage.count(.tokensDue) == tenants.count)
                #expect(stage.count(.tokensRefreshed) == tenants.count)
                #expect(try await world.idp.stats()["redemptions"] == before + tenants.count)
                for tenant in tenants {
                    #expect(covered[tenant] == nil, "\(tenant) refreshed by two shards")
                    covered[tenant] = shard.index
                    #expect(shard.contains(tenant))
                }
            }
            #expect(covered.keys.sorted() == Self.tenants)
            // Every token was redeemed once and holds the provider's newest; none is due any more.
            for (key, old) in world.tokens {
                #expect(try world.stored(key) != old)
                #expect(try world.row(key).leaseOwner == nil)
            }
            #expect(try await world.idp.stats()["redemptions"] == Self.tenants.count)
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
        }
    }

    @Test func eachOfNShardsRefreshesAtMaxRateOverNSoTheProviderSeesTheJobsRate() async throws {
        try await withTemporaryDirectory { folder in
            // Four tenants that all fall in shard 1 of 4.
            let tenants = ["r3", "r4", "r8", "r11"]
            #expect(tenants.allSatisfy { TenantShard.index(of: $0, count: 4) == 1 })
            let world = try await RefreshStageTests.World(folder, users: 1, tenants: tenants)
            let spec = try world.spec().replacingMaxRate(8)
            guard case .refresh(let options) = spec.stages[0].options else { throw CancellationError() }
            let shard = try #require(TenantShard(index: 1, count: 4))
            let stage = await RefreshStage(name: "refresh-tokens", options: options, provider: spec.providers["local"]!)
                .run(try Self.context(world.fixture, shard: shard, environment: world.environment))
            #expect(stage.count(.tokensRefreshed) == 4, "\(stage.cases)")
            #expect(
                stage.log.contains { $0.contains("paced at 2/s: max_rate 8/s is the whole job's, shared by 4 shards") })
            // At 8/s the four requests would span 0.375 s; at this shard's 2/s they span 1.5 s. Judged on the span,
            // which a loaded machine can only make longer.
            let arrivals = try await world.idp.requests().map(\.time).sorted()
            #expect(arrivals.count == 4)
            #expect(arrivals.last! - arrivals.first! >= 1.45, "requests at \(arrivals.map { $0 - arrivals[0] }) s")
        }
    }
}

extension JobSpec {
    /// The spec with the first stage's `max_rate` replaced (requests per second).
    func replacingMaxRate(_ rate: Double) -> JobSpec {
        var spec = self
        guard case .refresh(var options) = spec.stages[0].options else { return self }
        options.maxRate = rate
        spec.stages[0].options = .refresh(options)
        return spec
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Runner
@testable import Support

/// What a sharded run needs before it starts: server state (the N shards hold it together), a run id
/// the shards share, and that id a plain name. Plans and dry runs only read, so they preview a shard anywhere.
@Suite struct ShardRunOptionsTests {
    static func options(shard: String, runID: String? = nil, dryRun: Bool = false) throws -> RunOptions {
        var options = RunOptions(defaultPrincipal: "pipeline", environment: [:])
        options.shard = try #require(TenantShard(parsing: shard))
        options.runID = runID
        options.dryRun = dryRun
        return options
    }

    @Test func aShardedRunThatChangesStateNeedsServerStateFirstAndThenARunID() throws {
        #expect(
            JobRunner.shardRefusal(try Self.options(shard: "2/4", runID: "20451"), embeddedStore: true)
                == .shardNeedsServerState(shard: "2/4"))
        let noID = try #require(JobRunner.shardRefusal(try Self.options(shard: "2/4"), embeddedStore: false))
        #expect(noID == .shardNeedsRunID(shard: "2/4"))
        #expect(noID.exitStatus == .usage)
        #expect(noID.description.contains("Build.BuildId"))
        #expect(JobRunner.shardRefusal(try Self.options(shard: "2/4", runID: "20451"), embeddedStore: false) == nil)
    }

    @Test func aDryRunOrAWholeRunOfOneShardMayRunOnTheEmbeddedStoreWithoutARunID() throws {
        #expect(JobRunner.shardRefusal(try Self.options(shard: "2/4", dryRun: true), embeddedStore: true) == nil)
        #expect(JobRunner.shardRefusal(try Self.options(shard: "1/1"), embeddedStore: true) == nil)
    }

    @Test func aRunIDIsAPlainNameSuchAsACIRunsID() {
        for good in ["20451", "7012345678-1", "nightly.2026-12-02", "a"] {
            #expect(JobRunner.isValidRunID(good), "\(good)")
        }
        for bad in ["", "-1", ".hidden", "a b", "../x", "a/b", "run\n1", String(repeating: "9", count: 101), "ünï"] {
            #expect(!JobRunner.isValidRunID(bad), "\(bad)")
        }
    }
}

import Foundation
import Testing

@testable import Access
@testable import PostgresClient
@testable import Spec
@testable import Store
@testable import Support

/// The store sessions a `TokenAccess` keeps on PostgreSQL (one web host): bounded, shared by its
/// concurrent requests, replaced when the server drops one, and never letting two requests redeem one
/// token at once.
@Suite(.serialized) struct TokenAccessPoolTests {
    /// A `TokenAccess` on the world whose store connections are named `application` on the server.
    static func access(_ world: PostgresJobWorld, application: String, sessions: Int) throws -> TokenAccess {
        var environment = world.environment
        environment["TOKENKEEPER_STORE_URL"] = world.connectionString + " application_name=\(application)"
        let spec = try world.writeSpec("stages:\n  - name: r\n    kind: rotate\n    tenants: all\n")
        return try TokenAccess(
            spec: try JobSpec.load(path: spec),
            principal: "web", environment: environment, storeSessions: sessions)
    }

    /// The server's sessions named `application`, by pid.
    static func backends(_ world: PostgresJobWorld, application: String) throws -> [Int64] {
        let rows = try world.connection().query(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid", [.text(application)],
            purpose: "sessions")
        return (0..<rows.count).map { rows.int($0, 0) }
    }

    /// Asks for a forced refresh of each of `users` at once (`times` each), returning the failures.
    static func burst(_ access: TokenAccess, users: [String], times: Int = 1) async -> [String] {
        await withTaskGroup(of: String?.self) { group in
            for _ in 0..<times {
                for user in users {
                    group.addTask {
                        do {
                            _ = try await access.accessToken(
                                for: TokenKey(tenant: "t1", user: user, provider: "local"), forceRefresh: true)
                            return nil
                        } catch { return "\(user): \(error)" }
                    }
                }
            }
            var failures: [String] = []
            for await failure in group { if let failure { failures.append(failure) } }
            return failures
        }
    }

    @Test func concurrentCallersUseAtMostThePoolSizeOfSessionsOnTheServer() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let users = (0..<24).map { "u\($0)" }
            try await world.signIn(tenant: "t1", users: users)
            // A pool of one: two cooperative threads running requests at once would otherwise open a second.
            let access = try Self.access(world, application: "pool-bound", sessions: 1)
            var most = 0
            async let failures = Self.burst(access, users: users, times: 3)
            for _ in 0..<40 {
                most = max(most, try Self.backends(world, application: "pool-bound").count)
                try await Task.sleep(for: .milliseconds(25))
            }
            #expect(await failures.allSatisfy { $0.contains("lease") })
            most = max(most, try Self.backends(world, application: "pool-bound").count)
            #expect(most == 1, "the server saw \(most) sessions of a pool of 1")
            #expect(access.openStoreSessions == 1)
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
        }
    }

    @Test func aSessionTheServerDroppedIsReplacedByANewOne() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let users = (0..<6).map { "u\($0)" }
            try await world.signIn(tenant: "t1", users: users)
            try await world.idp.admin("admin/faults", ["count": 6, "delay": 0.2, "paths": ["/token"]])
            let access = try Self.access(world, application: "pool-lost", sessions: 2)
            #expect(await Self.burst(access, users: users) == [])
            let before = try Self.backends(world, application: "pool-lost")
            #expect((1...2).contains(before.count))
            _ = try world.connection().query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pool-lost'",
                purpose: "drop the pool's sessions")
            // A request that meets a dropped session fails, and its session is replaced: at most one per session.
            var failed = 0
            for attempt in 0..<6 {
                failed += await Self.burst(access, users: ["u\(attempt)"]).count
            }
            #expect(failed <= before.count, "\(failed) requests failed after \(before.count) sessions were dropped")
            #expect(await Self.burst(access, users: users) == [])
            let after = try Self.backends(world, application: "pool-lost")
            #expect(!after.isEmpty && after.count <= 2)
            #expect(Set(after).isDisjoint(with: before), "a dropped session was still counted: \(before) \(after)")
        }
    }

    @Test func hostsSharingTheStoreNeverRedeemOneTokenTwice() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let users = ["u0", "u1", "u2"]
            try await world.signIn(tenant: "t1", users: users)
            try await world.idp.admin("admin/faults", ["count": 200, "delay": 0.05, "paths": ["/token"]])
            let first = try Self.access(world, application: "pool-host-1", sessions: 2)
            let second = try Self.access(world, application: "pool-host-2", sessions: 2)
            async let one = Self.burst(first, users: users, times: 4)
            async let two = Self.burst(second, users: users, times: 4)
            let failures = await one + two
            // Only a request that waited out another host's lease may fail, and it says so.
            #expect(failures.allSatisfy { $0.contains("lease") }, "\(failures)")
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
            #expect(try await world.idp.stats()["redemptions"] ?? 0 >= 3)
            for user in users {
                _ = try await first.accessToken(
                    for: TokenKey(tenant: "t1", user: user, provider: "local"), forceRefresh: true)
            }
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
        }
    }
}

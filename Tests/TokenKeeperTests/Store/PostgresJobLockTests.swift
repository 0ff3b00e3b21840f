import Foundation
import Support
import Testing

@testable import Store

/// The job lock on PostgreSQL: one job at a time per lock name, a waiting job names the holder, and the
/// lock dies with the holder's session. Against the test process's server.
@Suite struct PostgresJobLockTests {
    private func database() throws -> String {
        let server = try PostgresTestServer.shared()
        return server.connectionString(database: try server.createDatabase())
    }

    @Test func aSecondJobWaitsItsTimeoutThenFailsNamingTheHolder() throws {
        let connectionString = try database()
        let first = try PostgresJobLock.acquire(
            connectionString: connectionString, location: "postgres:test", name: "nightly",
            holder: "host=ci-1 pid=11 since=2026-12-02T00:00:00Z", timeout: 0)
        let started = Date()
        let error = try #require(throws: PostgresJobLockError.self) {
            try PostgresJobLock.acquire(
                connectionString: connectionString, location: "postgres:test", name: "nightly",
                holder: "host=ci-2 pid=22", timeout: 0.5)
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.5 && waited < 5)
        #expect(error.description.contains("host=ci-1 pid=11 since=2026-12-02T00:00:00Z"))
        #expect(error.item == "postgres:test")
        #expect(error.exitStatus == .environment)
        // Another job name is another lock.
        _ = try PostgresJobLock.acquire(
            connectionString: connectionString, location: "postgres:test", name: "weekly", holder: "w", timeout: 0)
        // Released, it is free at once.
        first.release()
        _ = try PostgresJobLock.acquire(
            connectionString: connectionString, location: "postgres:test", name: "nightly", holder: "h", timeout: 2)
    }

    @Test func aSecondCopyOfAShardWaitsItsTimeoutThenFailsNamingTheFirstWhileTheRunsOtherShardsJoin() throws {
        let connectionString = try database()
        func shard(_ index: Int, holder: String, timeout: TimeInterval) throws -> PostgresJobLock {
            try PostgresJobLock.acquire(
                connectionString: connectionString, location: "postgres:test", name: "nightly", holder: holder,
                timeout: timeout, mode: .shard(run: "20451", count: 2, index: index))
        }
        let first = try shard(1, holder: "pid=11 shard=1/2 run=20451 host=ci-1", timeout: 0)
        let started = Date()
        let error = try #require(throws: PostgresJobLockError.self) {
            try shard(1, holder: "pid=22 shard=1/2 run=20451 host=ci-2", timeout: 0.5)
        }
        let waited = Date().timeIntervalSince(started)
        #expect(waited >= 0.5 && waited < 5)
        #expect(error.description.contains("pid=11 shard=1/2 run=20451 host=ci-1"), "\(error)")
        #expect(error.exitStatus == .environment)
        // The run's other shard still holds the state beside the first copy of shard 1.
        let second = try shard(2, holder: "pid=33 shard=2/2 run=20451 host=ci-3", timeout: 0)
        // Once the first copy's session ends, a retry of shard 1 gets in.
        first.release()
        _ = try shard(1, holder: "pid=44 shard=1/2 run=20451 host=ci-4", timeout: 2)
        withExtendedLifetime(second) {}
    }

    @Test func theLockDiesWithItsHoldersProcessEvenKilledWithSIGKILL() throws {
        let connectionString = try database()
        // A process of its own holds the lock in its session, idle between statements as a job's lock session is.
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: try PostgresTestServer.binaries() + "/psql")
        holder.arguments = ["-X", "-q", "-d", connectionString]
        holder.environment = ["PGAPPNAME": "tokenkeeper job host=child"]
        let input = Pipe()
        holder.standardInput = input
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        // The pipe stays open: psql waits for more statements, its session idle and holding the lock.
        input.fileHandleForWriting.write(
            Data("SELECT pg_advisory_lock(hashtextextended('tokenkeeper job nightly', 0));\n".utf8))
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        var held = false
        for _ in 0..<100 where !held {
            do {
                _ = try PostgresJobLock.acquire(
                    connectionString: connectionString, location: "postgres:test", name: "nightly", holder: "probe",
                    timeout: 0)
                usleep(100_000)
            } catch let error as PostgresJobLockError {
                held = error.description.contains("host=child")
            }
        }
        try #require(held, "the child never took the lock")
        kill(holder.processIdentifier, SIGKILL)
        _ = try PostgresJobLock.acquire(
            connectionString: connectionString, location: "postgres:test", name: "nightly", holder: "next",
            timeout: 5)
    }
}

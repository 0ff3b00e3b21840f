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

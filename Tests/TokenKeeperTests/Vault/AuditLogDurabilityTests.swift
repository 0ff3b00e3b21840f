import Foundation
import Testing

@testable import Report
@testable import Vault

#if canImport(Glibc)
    import Glibc
#endif

/// The audit log syncs every mutation at once and buffers reads (key fetches), writing and syncing them
/// within a second, when asked, when the vault goes away and when a command exits; a killed process loses
/// at most its last second of reads, never a mutation. "Synced" is observed with cachestat(2): no page of
/// the log is left dirty in the kernel's page cache.
@Suite struct AuditLogDurabilityTests {
    /// The log's entries, one JSON object per line.
    static func entries(_ vaultPath: String) throws -> [[String: Any]] {
        let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: vaultPath + "/audit.log")), as: UTF8.self)
        return try text.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// How many entries of `operation` (on `secret`, at `version`, from `since` on, when given) the log holds.
    static func count(
        _ operation: String, secret: String? = nil, version: Int? = nil, since: Date? = nil,
        in vaultPath: String
    ) throws -> Int {
        try entries(vaultPath).filter {
            $0["operation"] as? String == operation && (secret == nil || $0["secret"] as? String == secret)
                && (version == nil || $0["version"] as? Int == version)
                && (since == nil
                    || ($0["time"] as? String).flatMap { ISO8601DateFormatter().date(from: $0) }.map { $0 >= since! }
                        == true)
        }.count
    }

    @Test func aMutationIsWrittenAndSyncedBeforeItReturns() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            _ = try vault.createSecret("t1")
            #expect(try Self.count("create secret", secret: "t1", in: fixture.path) == 1)
            let state = try PageCacheState.of(fixture.path + "/audit.log")
            #expect(state.isClean, "\(state)")
        }
    }

    @Test func aReadIsBufferedThenWrittenAndSyncedWithinASecond() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            _ = try vault.createSecret("t1")
            let fetched = Date()
            _ = try vault.dataKey(secret: "t1", version: 1)
            // No write (and no sync) per key fetch...
            #expect(try Self.count("get key", in: fixture.path) == 0)
            // ... but on disk within a second, without anyone asking. (Polled on this thread: an awaiting task
            // could be scheduled late while other tests block the cooperative threads.)
            // The entry is written, then the file synced: seeing the entry, the sync may still be under way.
            func writtenAndSynced() throws -> Bool {
                try Self.count("get key", in: fixture.path) == 1
                    && PageCacheState.of(fixture.path + "/audit.log").isClean
            }
            while try !writtenAndSynced(), Date().timeIntervalSince(fetched) < 3 {
                usleep(10_000)
            }
            let waited = Date().timeIntervalSince(fetched)
            #expect(try Self.count("get key", in: fixture.path) == 1)
            #expect(waited < 1, "the read's entry took \(waited) s to reach the log and the disk")
            let state = try PageCacheState.of(fixture.path + "/audit.log")
            #expect(state.isClean, "\(state)")
            withExtendedLifetime(vault) {}
        }
    }

    @Test func flushAuditLogWritesAndSyncsBufferedReadsAtOnce() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            _ = try vault.createSecret("t1")
            _ = try vault.dataKey(secret: "t1", version: 1)
            try vault.flushAuditLog()
            #expect(try Self.count("get key", in: fixture.path) == 1)
            let state = try PageCacheState.of(fixture.path + "/audit.log")
            #expect(state.isClean, "\(state)")
        }
    }

    @Test func aVaultThatGoesAwayWritesItsBufferedReads() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            _ = try fixture.open().createSecret("t1")
            do {
                let vault = try fixture.open()
                _ = try vault.versions(of: "t1")
            }
            #expect(try Self.count("list versions", in: fixture.path) == 1)
        }
    }

    @Test func flushAllWritesTheBufferedReadsOfEveryLogOfTheProcess() throws {
        try withTemporaryDirectory { folder in
            let first = try VaultFixture(folder: folder + "/a"), second = try VaultFixture(folder: folder + "/b")
            let vaults = [try first.open(), try second.open()]
            for vault in vaults {
                _ = try vault.createSecret("t1")
                _ = try vault.dataKey(secret: "t1", version: 1)
            }
            #expect(AuditLog.flushAll().isEmpty)
            #expect(try Self.count("get key", in: first.path) == 1)
            #expect(try Self.count("get key", in: second.path) == 1)
            withExtendedLifetime(vaults) {}
        }
    }

    @Test func aCommandsBufferedReadsAreInTheLogWhenItExits() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            _ = try world.spec()
            // The log's times are whole seconds; the seeding's entries are dated 40 days ago (the fixture's clock).
            let started = Date().addingTimeInterval(-1)
            // `token access` fetches the row's key, waits 1.5 s for the provider (the timer writes that read),
            // then fetches the newest key to seal the rotated token and exits at once: only the exit writes it.
            try await world.idp.admin("admin/faults", ["delay": 1.5, "count": 1])
            let result = try runTokenKeeper(
                [
                    "token", "access", "--spec", world.fixture.folder + "/job.yml", "--tenant", "t1", "--user", "u0",
                    "--provider", "local",
                ], environment: world.environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.count("get key", secret: "t1", since: started, in: world.fixture.vaultPath) == 1)
            #expect(try Self.count("get latest key", secret: "t1", since: started, in: world.fixture.vaultPath) == 1)
        }
    }

    @Test func aKilledProcessLosesAtMostItsLastSecondOfReadsAndNoMutation() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1, tenants: ["t1", "t2"])
            // A rotation of t2 (a mutation: a new key version), then a refresh whose first request (t1's row,
            // after a fetch of t1's key) the provider holds for 30 s: long enough that a loaded machine, on which
            // this test may notice the held request seconds late, still finds the job waiting for it.
            _ = try world.fixture.spec(
                JobFixture.header + world.idp.providerYAML() + """
                    stages:
                      - name: rotate-keys
                        kind: rotate
                        tenants: [t2]
                        max_key_age: 30d
                      - name: refresh-tokens
                        kind: refresh
                        provider: local
                        refresh_after: 7d
                        concurrency: 1
                        request_timeout: 60s
                    """)
            try await world.idp.admin("admin/faults", ["delay": 30, "count": 1])
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
            process.arguments = ["run", world.fixture.folder + "/job.yml"]
            process.environment = ProcessInfo.processInfo.environment.merging(world.environment) { _, new in new }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let deadline = Date().addingTimeInterval(30)
            while try await world.idp.stats()["token_requests", default: 0] == 0, process.isRunning, Date() < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            // The key fetch came before the request; 1.5 s later its entry must be on disk.
            try await Task.sleep(for: .milliseconds(1_500))
            #expect(process.isRunning, "the run ended before it could be killed")
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal)
            #expect(try Self.count("add version", secret: "t2", in: world.fixture.vaultPath) == 1)
            #expect(try Self.count("get key", secret: "t1", version: 1, in: world.fixture.vaultPath) == 1)
        }
    }
}

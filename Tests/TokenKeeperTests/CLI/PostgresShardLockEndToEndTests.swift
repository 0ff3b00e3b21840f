import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// The job lock of a sharded run on PostgreSQL (I7), with the built binary in child processes: the N shards
/// of one run hold the state together, and nothing else meanwhile (not an unsharded job, not a shard of
/// another run or of another N), each refused after its `--lock-timeout` with exit 3 naming the holder; a
/// shard killed with SIGKILL frees its share; token use never takes the lock. The vault and the store are
/// both on PostgreSQL, in one database of the test server, as examples/nightly-postgres.yml keeps them.
@Suite(.serialized) struct PostgresShardLockEndToEndTests {
    static let refresh = """
        stages:
          - name: refresh-tokens
            kind: refresh
            provider: local
            refresh_after: 7d
            concurrency: 1
            request_timeout: 60s
            retries: 0
        report:
          junit: ./reports/shard-job.xml
          json: ./reports/shard-job.json

        """

    /// A world with the vault and the store on PostgreSQL: `vault init` and `state init` by the binary, the
    /// tokens put through the library, issued 40 days ago so every one is due for a refresh.
    struct World: Sendable {
        let folder: String
        let connectionString: String
        let idp: TestIdentityProvider
        let environment: [String: String]

        init(folder: String) throws {
            self.folder = folder
            let server = try PostgresTestServer.shared()
            connectionString = server.connectionString(database: try server.createDatabase())
            idp = try TestIdentityProvider()
            var environment = [
                "TOKENKEEPER_POSTGRES": connectionString, "TOKENKEEPER_PRINCIPAL": "pipeline",
                "TOKENKEEPER_VAULT": "postgres:env:TOKENKEEPER_POSTGRES",
                "TOKENKEEPER_STORE": "postgres:env:TOKENKEEPER_POSTGRES", "IDP_CLIENT_SECRET": idp.clientSecret,
                "CI": "true",
            ]
            let initialized = try runTokenKeeper(
                ["vault", "init", "postgres:env:TOKENKEEPER_POSTGRES", "--master-key-out", "master.key"],
                environment: environment, workingDirectory: folder)
            guard initialized.status == 0 else {
                throw GeneralError(item: "vault init", problem: initialized.stderr, remedy: "")
            }
            environment["TOKENKEEPER_MASTER_KEY"] = try String(
                contentsOfFile: folder + "/master.key", encoding: .utf8
            ).trimmingCharacters(in: .whitespacesAndNewlines)
            let state = try runTokenKeeper(["state", "init"], environment: environment, workingDirectory: folder)
            guard state.status == 0 else { throw GeneralError(item: "state init", problem: state.stderr, remedy: "") }
            self.environment = environment
            let spec = """
                version: 1
                name: shard-job
                principal: pipeline
                vault:
                  postgres: env:TOKENKEEPER_POSTGRES
                  master_key: env:TOKENKEEPER_MASTER_KEY
                store:
                  postgres: env:TOKENKEEPER_POSTGRES

                """
            try Data((spec + idp.providerYAML() + PostgresShardLockEndToEndTests.refresh).utf8).write(
                to: URL(fileURLWithPath: folder + "/job.yml"))
        }

        static func make(folder: String) async throws -> World {
            try await offThePool { try World(folder: folder) }
        }

        /// Signs `users` of each tenant in at the provider and stores their refresh tokens, issued 40 days ago.
        func signIn(tenants: [String], users: [String]) async throws {
            let masterKey = try MasterKey(base64: environment["TOKENKEEPER_MASTER_KEY"]!)
            let vault = try PostgresVault.open(
                connectionString: connectionString, location: "test", masterKey: masterKey, principal: "pipeline")
            let store = try StateBinding.openStore(
                .postgres(connection: .environment("URL"), tls: .verifiedOffHost), vault: vault,
                environment: ["URL": connectionString])
            let custodian = TokenCustodian(vault: vault, store: store)
            let issued = Date().addingTimeInterval(-40 * 86_400)
            for tenant in tenants {
                let tokens =
                    try await idp.admin("admin/signin", ["tenant": tenant, "users": users])["refresh_tokens"]
                    as! [String]
                for (user, token) in zip(users, tokens) {
                    try custodian.put(
                        TokenKey(tenant: tenant, user: user, provider: "local"), token: SecretText(token),
                        issuedAt: issued, expiresAt: nil)
                }
            }
        }

        /// Runs the built binary in the world's folder and waits for it off the shared pool.
        func run(_ arguments: [String]) async throws -> ProcessResult {
            let environment = environment, folder = folder
            return try await offThePool {
                try runTokenKeeper(arguments, environment: environment, workingDirectory: folder)
            }
        }

        /// Starts the built binary in the world's folder without waiting for it.
        func start(_ arguments: [String]) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
            process.arguments = arguments
            process.currentDirectoryURL = URL(fileURLWithPath: folder)
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }

        /// Waits (at most 30 s) until the provider has seen `count` requests to /token.
        func waitForRequests(_ count: Int) async throws {
            var waited = 0
            while try await idp.requests().count < count, waited < 300 {
                try await Task.sleep(nanoseconds: 100_000_000)
                waited += 1
            }
            try #require(waited < 300, "the provider never saw \(count) requests")
        }
    }

    static let tenants = (0..<8).map { "tenant-\($0)" }

    @Test func twoShardsOfOneRunHoldTheStateTogetherAndHandleEveryTenantExactlyOnce() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World.make(folder: folder)
            try await world.signIn(tenants: Self.tenants, users: ["u0", "u1"])
            // Shard 1's first request hangs at the provider for 8 s, so it holds its share meanwhile.
            try await world.idp.admin("admin/faults", ["delay": 8, "count": 1])
            let first = try world.start(["run", "job.yml", "--shard", "1/2", "--run-id", "20451"])
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            try await world.waitForRequests(1)
            let second = try await world.run(
                ["run", "job.yml", "--shard", "2/2", "--run-id", "20451", "--lock-timeout", "1s"])
            #expect(second.status == 0, "\(second.output)")
            #expect(first.isRunning, "shard 1 ended before shard 2 ran beside it")
            try await offThePool { first.waitUntilExit() }
            #expect(first.terminationStatus == 0)
            let stats = try await world.idp.stats()
            #expect(stats["redemptions"] == Self.tenants.count * 2, "\(stats)")
            #expect(stats["reuse"] ?? 0 == 0, "\(stats)")
            let merged = try await world.run(["report", "show", "reports", "--shards", "2"])
            #expect(merged.status == 0, "\(merged.output)")
        }
    }

    @Test func whileAShardRunsNothingElseMayHoldTheStateAndItsKillFreesItsShare() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World.make(folder: folder)
            try await world.signIn(tenants: Self.tenants, users: ["u0", "u1"])
            try await world.idp.admin("admin/faults", ["delay": 60, "count": 1])
            let shard = try world.start(["run", "job.yml", "--shard", "1/2", "--run-id", "20451"])
            defer { if shard.isRunning { kill(shard.processIdentifier, SIGKILL) } }
            try await world.waitForRequests(1)
            let holder = "pid=\(shard.processIdentifier) shard=1/2 run=20451 since="
            for others in [
                ["run", "job.yml"], ["run", "job.yml", "--shard", "2/2", "--run-id", "20452"],
                ["run", "job.yml", "--shard", "2/3", "--run-id", "20451"],
            ] {
                let started = Date()
                let other = try await world.run(others + ["--lock-timeout", "1s"])
                #expect(Date().timeIntervalSince(started) >= 1, "\(others)")
                #expect(other.status == 3, "\(others): \(other.output)")
                #expect(other.stderr.contains(holder), "\(others): \(other.stderr)")
            }
            // Token use never takes the job lock.
            let access = try await world.run(
                ["token", "access", "--spec", "job.yml", "--tenant", "tenant-0", "--user", "u1", "--provider", "local"])
            #expect(access.status == 0, "\(access.stderr)")
            kill(shard.processIdentifier, SIGKILL)
            try await offThePool { shard.waitUntilExit() }
            let after = try await world.run(["run", "job.yml", "--lock-timeout", "10s"])
            #expect(after.status != 3, "\(after.output)")
            #expect(!after.stderr.contains("holds the job lock"), "\(after.stderr)")
        }
    }

    @Test func aSecondCopyOfAShardWaitsAndExitsThreeNamingTheFirstWhileTheRunsOtherShardRuns() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World.make(folder: folder)
            try await world.signIn(tenants: Self.tenants, users: ["u0"])
            try await world.idp.admin("admin/faults", ["delay": 60, "count": 1])
            let shard = try world.start(["run", "job.yml", "--shard", "1/2", "--run-id", "20451"])
            defer { if shard.isRunning { kill(shard.processIdentifier, SIGKILL) } }
            try await world.waitForRequests(1)
            // A CI retry of shard 1 while the first copy still runs.
            let started = Date()
            let copy = try await world.run(
                ["run", "job.yml", "--shard", "1/2", "--run-id", "20451", "--lock-timeout", "1s"])
            #expect(Date().timeIntervalSince(started) >= 1)
            #expect(copy.status == 3, "\(copy.output)")
            #expect(copy.stderr.contains("pid=\(shard.processIdentifier) shard=1/2 run=20451 since="), "\(copy.stderr)")
            let other = try await world.run(
                ["run", "job.yml", "--shard", "2/2", "--run-id", "20451", "--lock-timeout", "1s"])
            #expect(other.status == 0, "\(other.output)")
            #expect(shard.isRunning, "shard 1 ended before shard 2 ran beside it")
        }
    }

    @Test func whileAnUnshardedJobRunsAShardWaitsAndExitsThreeNamingTheHolder() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World.make(folder: folder)
            try await world.signIn(tenants: Self.tenants, users: ["u0"])
            try await world.idp.admin("admin/faults", ["delay": 60, "count": 1])
            let job = try world.start(["run", "job.yml"])
            defer { if job.isRunning { kill(job.processIdentifier, SIGKILL) } }
            try await world.waitForRequests(1)
            let shard = try await world.run(
                ["run", "job.yml", "--shard", "1/2", "--run-id", "20451", "--lock-timeout", "1s"])
            #expect(shard.status == 3, "\(shard.output)")
            #expect(shard.stderr.contains("pid=\(job.processIdentifier) since="), "\(shard.stderr)")
        }
    }

    @Test func aPlanAndADryRunOfAShardOnPostgresChangeNothing() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World.make(folder: folder)
            try await world.signIn(tenants: Self.tenants, users: ["u0"])
            let plan = try await world.run(["plan", "job.yml", "--shard", "1/2"])
            #expect(plan.status == 0, "\(plan.output)")
            let dry = try await world.run(
                ["run", "job.yml", "--dry-run", "--shard", "1/2", "--run-id", "20451", "--report-dir", "out"])
            #expect(dry.status == 0, "\(dry.output)")
            #expect(FileManager.default.fileExists(atPath: folder + "/out/shard-job-1-of-2.xml"))
            #expect(try await world.idp.stats()["redemptions"] == 0)
        }
    }

    @Test func aShardedRunThatChangesStateRefusesAVaultFolder() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try world.writeSpec(PostgresShardLockEndToEndTests.refresh)
            let result = try await world.run(["run", "job.yml", "--shard", "1/2", "--run-id", "20451"])
            #expect(result.status == 2, "\(result.output)")
            #expect(result.stderr.contains("vault on PostgreSQL"), "\(result.stderr)")
        }
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Support

/// The job and token commands with the tokens on PostgreSQL (the vault in a folder), run as a pipeline and
/// a web service run them: the built binary in child processes, the store in a database of the test server,
/// the project's identity provider. The connection string reaches the commands only through
/// TOKENKEEPER_STORE_URL and never comes back out.
@Suite(.serialized) struct PostgresJobCommandsEndToEndTests {
    static let threeStages = """
        stages:
          - name: rotate-keys
            kind: rotate
            tenants: all
            max_key_age: 30d
            keep_versions: 1
          - name: refresh-tokens
            kind: refresh
            provider: local
            refresh_after: 7d
            concurrency: 4
            request_timeout: 5s
          - name: offboard
            kind: revoke
            users: [t2/v0]
            mode: delete-record
        report:
          junit: ./reports/pg-job.xml
          json: ./reports/pg-job.json

        """

    /// The database name: what would show if the connection string leaked.
    private func databaseName(_ world: PostgresJobWorld) -> String {
        String(world.connectionString.split(separator: " ").first { $0.hasPrefix("dbname=") }!.dropFirst(7))
    }

    @Test func tokenPutListShowImportAndAccessWorkOnAPostgresStore() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try world.writeSpec("stages:\n  - name: r\n    kind: rotate\n    tenants: all\n")
            var printed = ""
            let put = try await world.run(
                ["token", "put", "--tenant", "t1", "--user", "alice", "--provider", "local"],
                stdin: "rt-alice-value\n")
            #expect(put.status == 0, "\(put.stderr)")
            let signedIn = try await world.idp.admin("admin/signin", ["tenant": "t2", "user": "bob"])
            let line = String(decoding: try JSONSerialization.data(withJSONObject: signedIn), as: UTF8.self)
            let imported = try await world.run(["token", "import", "--provider", "local"], stdin: line + "\n")
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.output.contains("added 1"), "\(imported.output)")
            let list = try await world.run(["token", "list"])
            #expect(list.status == 0 && list.stdout.contains("alice") && list.stdout.contains("bob"), "\(list.output)")
            let show = try await world.run([
                "token", "show", "--tenant", "t1", "--user", "alice", "--provider", "local",
            ])
            #expect(show.status == 0 && !show.stdout.contains("rt-alice-value"), "\(show.output)")
            let reveal = try await world.run(
                ["token", "show", "--tenant", "t1", "--user", "alice", "--provider", "local", "--reveal"])
            #expect(reveal.stdout.contains("rt-alice-value"), "\(reveal.output)")
            let access = try await world.run(
                ["token", "access", "--spec", "job.yml", "--tenant", "t2", "--user", "bob", "--provider", "local"])
            #expect(access.status == 0, "\(access.stderr)")
            #expect(access.stdout.contains("access_token"), "\(access.stdout)")
            // The rotated refresh token was committed to PostgreSQL: the stored one is the provider's newest.
            let stored = try world.openEveryToken().tokens
            let bob = try #require(stored[TokenKey(tenant: "t2", user: "bob", provider: "local")])
            #expect(bob != signedIn["refresh_token"] as? String)
            let usable =
                try await world.idp.admin("admin/check", ["refresh_tokens": [bob]])["usable"] as? [String: Bool]
            #expect(usable?[bob] == true)
            for result in [put, imported, list, show, reveal, access] { printed += result.output }
            #expect(!printed.contains(databaseName(world)) && !printed.contains(world.connectionString))
        }
    }

    @Test func runRotatesRefreshesAndRevokesOnPostgresAndASecondRunIsUpToDate() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let before = try await world.signIn(tenant: "t1", users: ["u0", "u1", "u2", "u3"])
            try await world.signIn(tenant: "t2", users: ["v0", "v1"])
            try world.writeSpec(Self.threeStages)
            let run = try await world.run(["run", "job.yml"])
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stderr.contains("offboard: 1 user revoked"), "\(run.stderr)")
            let opened = try world.openEveryToken()
            #expect(opened.count == 5)
            for (user, token) in before {
                #expect(opened.tokens[TokenKey(tenant: "t1", user: user, provider: "local")] != token, "\(user)")
            }
            let versions = try await world.idp.admin("admin/check", ["refresh_tokens": Array(opened.tokens.values)])
            #expect((versions["usable"] as? [String: Bool])?.values.allSatisfy { $0 } == true)
            #expect(try world.custodian().store.keyVersionCounts(tenant: "t1") == [2: 4])
            let status = try await world.run(["status"])
            #expect(status.status == 0, "\(status.stderr)")
            #expect(status.stdout.contains("t1: key version 2"), "\(status.stdout)")
            let statusWithSpec = try await world.run(["status", "--spec", "job.yml"])
            #expect(statusWithSpec.status == 0, "\(statusWithSpec.stderr)")
            // --store beside the spec must name what the spec names.
            let otherStore = try await world.run(["plan", "job.yml", "--store", "postgres:env:OTHER_URL"])
            #expect(otherStore.status == 2, "\(otherStore.output)")
            #expect(otherStore.stderr.contains("is not the spec's store.postgres"), "\(otherStore.stderr)")
            let again = try await world.run(["run", "job.yml", "--store", "postgres:env:TOKENKEEPER_STORE_URL"])
            #expect(again.status == 0, "\(again.stderr)")
            #expect(again.stderr.contains("rotate-keys: up to date: 2 tenants"), "\(again.stderr)")
            #expect(again.stderr.contains("0 users revoked, 1 already revoked"), "\(again.stderr)")
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
            let printed = run.output + status.output + statusWithSpec.output + again.output
            #expect(!printed.contains(databaseName(world)))
        }
    }

    @Test func planAndDryRunLeaveEveryTableOfThePostgresStoreUnchanged() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try await world.signIn(tenant: "t1", users: ["u0", "u1"])
            try await world.signIn(tenant: "t2", users: ["v0"])
            try world.writeSpec(Self.threeStages)
            let tables = try world.tableDump()
            let vault = try JobFixture.snapshot(of: folder + "/state/vault")
            let plan = try await world.run(["plan", "job.yml"])
            #expect(plan.status == 0, "\(plan.stderr)")
            #expect(plan.stdout.contains("stage offboard (revoke): would revoke 1 user"), "\(plan.stdout)")
            let dry = try await world.run(["run", "job.yml", "--dry-run", "--report-dir", "out"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(try String(contentsOfFile: folder + "/out/pg-job.xml", encoding: .utf8).contains("dry_run"))
            #expect(try world.tableDump() == tables)
            #expect(try JobFixture.snapshot(of: folder + "/state/vault") == vault)
            #expect(try await world.idp.stats()["redemptions"] == 0)
        }
    }

    @Test func aSecondJobWaitsItsLockTimeoutAndExitsThreeNamingTheHolderWhoseKillFreesTheLock() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try await world.signIn(tenant: "t1", users: ["u0", "u1"])
            try world.writeSpec(
                """
                stages:
                  - name: refresh-tokens
                    kind: refresh
                    provider: local
                    refresh_after: 7d
                    concurrency: 1
                    request_timeout: 60s
                    retries: 0

                """)
            // The first job's first request hangs at the provider, so it holds the lock meanwhile.
            try await world.idp.admin("admin/faults", ["delay": 60, "count": 1])
            let first = Process()
            first.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
            first.arguments = ["run", "job.yml"]
            first.currentDirectoryURL = URL(fileURLWithPath: folder)
            first.environment = ProcessInfo.processInfo.environment.merging(world.environment) { _, new in new }
            first.standardOutput = FileHandle.nullDevice
            first.standardError = FileHandle.nullDevice
            try first.run()
            defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
            var waited = 0
            while try await world.idp.requests().isEmpty, waited < 300 {
                try await Task.sleep(nanoseconds: 100_000_000)
                waited += 1
            }
            try #require(waited < 300, "the first job never reached the provider")
            let started = Date()
            let second = try await world.run(["run", "job.yml", "--lock-timeout", "1s"])
            #expect(Date().timeIntervalSince(started) >= 1)
            #expect(second.status == 3, "\(second.output)")
            #expect(second.stderr.contains("pid=\(first.processIdentifier) since="), "\(second.stderr)")
            #expect(second.stderr.contains("host="), "\(second.stderr)")
            #expect(second.stderr.contains("postgres:env:TOKENKEEPER_STORE_URL"), "\(second.stderr)")
            // Token use never takes the job lock (I7): another user's token is used while the job holds it.
            let access = try await world.run(
                ["token", "access", "--spec", "job.yml", "--tenant", "t1", "--user", "u1", "--provider", "local"])
            #expect(access.status == 0, "\(access.stderr)")
            // kill -9 of the job ends its session, and with it the lock.
            kill(first.processIdentifier, SIGKILL)
            first.waitUntilExit()
            let third = try await world.run(["run", "job.yml", "--lock-timeout", "10s"])
            #expect(third.status != 3, "\(third.output)")
            #expect(!third.stderr.contains("holds the job lock"), "\(third.stderr)")
        }
    }

    @Test func aJobAndTokenUseOnOtherConnectionsNeverRedeemTheSameToken() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let users = (0..<24).map { "u\($0)" }
            try await world.signIn(tenant: "t1", users: users)
            try world.writeSpec(
                """
                stages:
                  - name: refresh-tokens
                    kind: refresh
                    provider: local
                    refresh_after: 7d
                    concurrency: 2
                    request_timeout: 10s

                """)
            // Every request takes a little while, and token use starts from the rows the job reaches last: the job
            // reads its due rows first, token use refreshes some of them, and the job comes to them afterwards.
            try await world.idp.admin("admin/faults", ["delay": 0.3, "count": 1_000])
            let job = Task { try await world.run(["run", "job.yml"]) }
            let users2 = users
            let uses = (0..<2).map { lane in
                Task {
                    var results: [ProcessResult] = []
                    for user in users2.reversed().enumerated().filter({ $0.offset % 2 == lane }).map(\.element).prefix(
                        8)
                    {
                        results.append(
                            try await world.run([
                                "token", "access", "--spec", "job.yml", "--tenant", "t1", "--user", user,
                                "--provider", "local",
                            ]))
                    }
                    return results
                }
            }
            let jobResult = try await job.value
            var accessed: [ProcessResult] = []
            for use in uses { accessed += try await use.value }
            #expect(jobResult.status == 0 || jobResult.status == 1, "\(jobResult.stderr)")
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
            // Every row still holds a usable token of its own user: nothing was redeemed twice or lost.
            let opened = try world.openEveryToken()
            #expect(opened.count == users.count)
            let usable = try await world.idp.admin("admin/check", ["refresh_tokens": Array(opened.tokens.values)])
            #expect((usable["usable"] as? [String: Bool])?.values.allSatisfy { $0 } == true, "\(usable)")
            #expect(accessed.count == 16)
        }
    }

    @Test func tlsUnverifiedIsAWarningInEveryRunOnTheConsoleAndInTheReport() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            try await world.signIn(tenant: "t1", users: ["u0"])
            let spec = try String(
                contentsOfFile: try world.writeSpec(
                    "stages:\n  - name: r\n    kind: rotate\n    tenants: all\nreport:\n  junit: ./reports/pg-job.xml\n"
                ), encoding: .utf8)
            try Data(
                spec.replacingOccurrences(
                    of: "  postgres: env:TOKENKEEPER_STORE_URL\n",
                    with: "  postgres: env:TOKENKEEPER_STORE_URL\n  tls: unverified\n"
                ).utf8
            ).write(to: URL(fileURLWithPath: folder + "/job.yml"))
            for arguments in [["run", "job.yml"], ["run", "job.yml"], ["plan", "job.yml"]] {
                let result = try await world.run(arguments)
                #expect(result.status == 0, "\(result.stderr)")
                #expect(
                    result.stderr.contains(
                        "warning: store postgres:env:TOKENKEEPER_STORE_URL: tls: unverified"), "\(result.stderr)")
            }
            let junit = try String(contentsOfFile: folder + "/reports/pg-job.xml", encoding: .utf8)
            #expect(junit.contains("warning: store postgres:env:TOKENKEEPER_STORE_URL: tls: unverified"))
            // Without it, no warning.
            try world.writeSpec("stages:\n  - name: r\n    kind: rotate\n    tenants: all\n")
            #expect(!(try await world.run(["run", "job.yml"]).stderr.contains("tls: unverified")))
        }
    }

    @Test func aConnectionStringGivenInPlaceOfAReferenceIsRefusedWithoutBeingRepeated() async throws {
        try await withTemporaryDirectory { folder in
            let secret = "postgresql://app:hunter2-secret@db.example.com/tokens"
            for (arguments, extra) in [
                (["token", "list", "--store", secret], [String: String]()),
                (["token", "list"], ["TOKENKEEPER_STORE": secret]),
                (["vault", "init", secret], [:]),
                (["token", "list", "--vault", "host=db.example.com password=hunter2-secret"], [:]),
            ] {
                let environment = extra.merging(["TOKENKEEPER_MASTER_KEY": ""]) { _, new in new }
                let result = try await offThePool {
                    try runTokenKeeper(arguments, environment: environment, workingDirectory: folder)
                }
                #expect(result.status == 2, "\(arguments): \(result.output)")
                #expect(
                    !result.output.contains("hunter2") && !result.output.contains("db.example.com"), "\(result.output)")
                #expect(result.stderr.contains("postgres:env:NAME"), "\(result.stderr)")
            }
        }
    }

    @Test func aServerThatRefusesTheConnectionIsExitThreeWithoutAnyPartOfTheConnectionString() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder)
            let server = try PostgresTestServer.shared()
            for (name, url) in [
                ("no such database", "host=\(server.folder) dbname=t_secret_dbname_4711 user=tokenkeeper"),
                ("no such user", "host=\(server.folder) dbname=postgres user=secret_user_4711 password=pw-4711-secret"),
                ("no server", "host=\(folder)/nowhere-4711 dbname=postgres user=tokenkeeper"),
            ] {
                let result = try await world.run(["token", "list"], extra: ["TOKENKEEPER_STORE_URL": url])
                #expect(result.status == 3, "\(name): \(result.output)")
                #expect(result.stderr.contains("postgres:env:TOKENKEEPER_STORE_URL"), "\(name): \(result.stderr)")
                #expect(!result.output.contains("4711"), "\(name): \(result.output)")
            }
        }
    }

    // MARK: - The vault on PostgreSQL

    @Test func vaultInitMakesAVaultOnPostgresAndAJobRunsWithBothOnPostgres() async throws {
        try await offThePool { try Self.vaultInitMakesAVaultOnPostgresAndAJobRunsWithBothOnPostgres() }
    }

    private static func vaultInitMakesAVaultOnPostgresAndAJobRunsWithBothOnPostgres() throws {
        try withTemporaryDirectory { folder in
            let server = try PostgresTestServer.shared()
            let vaultURL = server.connectionString(database: try server.createDatabase())
            let storeURL = server.connectionString(database: try server.createDatabase())
            let idp = try TestIdentityProvider()
            var environment = [
                "TOKENKEEPER_VAULT_URL": vaultURL, "TOKENKEEPER_STORE_URL": storeURL,
                "TOKENKEEPER_PRINCIPAL": "pipeline",
                "TOKENKEEPER_VAULT": "postgres:env:TOKENKEEPER_VAULT_URL",
                "TOKENKEEPER_STORE": "postgres:env:TOKENKEEPER_STORE_URL", "IDP_CLIENT_SECRET": idp.clientSecret,
                "CI": "true",
            ]
            let initialized = try runTokenKeeper(
                ["vault", "init", "postgres:env:TOKENKEEPER_VAULT_URL", "--master-key-out", "master.key"],
                environment: environment, workingDirectory: folder)
            #expect(initialized.status == 0, "\(initialized.stderr)")
            #expect(initialized.stderr.contains("Created vault postgres:env:TOKENKEEPER_VAULT_URL"))
            #expect(!initialized.output.contains(vaultURL))
            environment["TOKENKEEPER_MASTER_KEY"] = try String(contentsOfFile: folder + "/master.key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(
                try runTokenKeeper(["state", "init"], environment: environment, workingDirectory: folder).status == 0)
            let put = try runTokenKeeper(
                ["token", "put", "--tenant", "t1", "--user", "alice", "--provider", "local"], environment: environment,
                stdin: "rt-alice\n", workingDirectory: folder)
            #expect(put.status == 0, "\(put.stderr)")
            let spec = """
                version: 1
                name: both-on-pg
                principal: pipeline
                vault:
                  postgres: env:TOKENKEEPER_VAULT_URL
                  master_key: env:TOKENKEEPER_MASTER_KEY
                store:
                  postgres: env:TOKENKEEPER_STORE_URL
                stages:
                  - name: rotate-keys
                    kind: rotate
                    tenants: all
                    max_key_age: 30d

                """
            try Data(spec.utf8).write(to: URL(fileURLWithPath: folder + "/job.yml"))
            let run = try runTokenKeeper(["run", "job.yml"], environment: environment, workingDirectory: folder)
            #expect(run.status == 0, "\(run.stderr)")
            let list = try runTokenKeeper(["token", "list"], environment: environment, workingDirectory: folder)
            #expect(list.stdout.contains("alice"))
        }
    }

    @Test func vaultAuditAndRekeyWorkOnAPostgresVault() async throws {
        try await offThePool { try Self.vaultAuditAndRekeyWorkOnAPostgresVault() }
    }

    private static func vaultAuditAndRekeyWorkOnAPostgresVault() throws {
        try withTemporaryDirectory { folder in
            let server = try PostgresTestServer.shared()
            let vaultURL = server.connectionString(database: try server.createDatabase())
            var environment = [
                "TOKENKEEPER_VAULT_URL": vaultURL, "TOKENKEEPER_PRINCIPAL": "pipeline",
                "TOKENKEEPER_VAULT": "postgres:env:TOKENKEEPER_VAULT_URL", "CI": "true",
            ]
            let initialized = try runTokenKeeper(
                ["vault", "init", "postgres:env:TOKENKEEPER_VAULT_URL", "--master-key-out", "master.key"],
                environment: environment, workingDirectory: folder)
            #expect(initialized.status == 0, "\(initialized.stderr)")
            let oldKey = try String(contentsOfFile: folder + "/master.key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            environment["TOKENKEEPER_MASTER_KEY"] = oldKey
            let created = try runTokenKeeper(
                ["vault", "secret", "create", "tenant-a"], environment: environment, workingDirectory: folder)
            #expect(created.status == 0, "\(created.stderr)")
            let audit = try runTokenKeeper(["vault", "audit"], environment: environment, workingDirectory: folder)
            #expect(audit.status == 0, "\(audit.stderr)")
            #expect(audit.stdout.contains("tenant-a"), "\(audit.stdout)")
            let rekey = try runTokenKeeper(
                ["vault", "rekey", "--new-master-key-out", "new.key"], environment: environment,
                workingDirectory: folder)
            #expect(rekey.status == 0, "\(rekey.stderr)")
            #expect(!rekey.output.contains(vaultURL) && !rekey.output.contains(oldKey))
            let withOldKey = try runTokenKeeper(["vault", "audit"], environment: environment, workingDirectory: folder)
            #expect(withOldKey.status == 3, "the old master key must no longer open the vault: \(withOldKey.output)")
            environment["TOKENKEEPER_MASTER_KEY"] = try String(contentsOfFile: folder + "/new.key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let withNewKey = try runTokenKeeper(["vault", "audit"], environment: environment, workingDirectory: folder)
            #expect(withNewKey.status == 0, "\(withNewKey.stderr)")
            #expect(withNewKey.stdout.contains("rekey"), "\(withNewKey.stdout)")
        }
    }
}

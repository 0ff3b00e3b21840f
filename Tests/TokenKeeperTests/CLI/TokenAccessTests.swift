import Foundation
import Testing

@testable import Access
@testable import CLI
@testable import Report
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// `token access` and `token obo`, the path a web service takes, against the real identity provider.
@Suite(.serialized) struct TokenAccessTests {
    static func specFile(_ world: RefreshStageTests.World) throws -> String {
        _ = try world.spec()
        return world.fixture.folder + "/job.yml"
    }

    @Test func accessPrintsAnAccessTokenCommitsTheRotatedRefreshTokenAndNeverPrintsIt() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let result = try runTokenKeeper(
                [
                    "token", "access", "--spec", try Self.specFile(world), "--tenant", "t1", "--user", "u0",
                    "--provider", "local",
                ], environment: world.environment)
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
            #expect((object["access_token"] as? String)?.hasPrefix("at.") == true)
            #expect(object["tenant"] as? String == "t1")
            let stored = try world.stored(key)
            #expect(stored != world.tokens[key])
            #expect(!result.output.contains(stored) && !result.output.contains(world.tokens[key]!))
            #expect(!result.output.contains(world.idp.clientSecret))
            #expect(try await !world.idp.familyIsDead(stored))
        }
    }

    @Test func accessRedeemsOnEveryCallAndItsHelpPointsServicesToTheLibrary() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let arguments = [
                "token", "access", "--spec", try Self.specFile(world), "--tenant", "t1", "--user", "u0", "--provider",
                "local",
            ]
            var tokens: Set<String> = []
            for extra in [[], [], ["--refresh"]] {
                let result = try runTokenKeeper(arguments + extra, environment: world.environment)
                #expect(result.status == 0, "\(result.stderr)")
                let object = try #require(
                    try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
                tokens.insert(try #require(object["access_token"] as? String))
            }
            #expect(tokens.count == 3)
            #expect(try await world.idp.stats()["redemptions"] == 3)
            let help = try runTokenKeeper(["token", "access", "--help"]).stdout.replacingOccurrences(
                of: "\n", with: " "
            )
            .replacingOccurrences(of: "  ", with: " ")
            #expect(help.contains("every `token access` redeems at the provider"), "\(help)")
            #expect(help.contains("Long-running services should use the library's TokenAccess"), "\(help)")
            #expect(help.contains("--refresh"))
        }
    }

    @Test func headersUseAppServiceTokenStoreNames() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let result = try runTokenKeeper(
                [
                    "token", "access", "--spec", try Self.specFile(world), "--tenant", "t1", "--user", "u0",
                    "--provider", "local", "--format", "headers",
                ], environment: world.environment)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.hasPrefix("X-MS-TOKEN-LOCAL-ACCESS-TOKEN: at."))
            #expect(result.stdout.contains("X-MS-TOKEN-LOCAL-EXPIRES-ON: "))
            let grant = AccessGrant(
                key: TokenKey(tenant: "t", user: "u", provider: "entra"), providerKind: .entra,
                accessToken: SecretText("at"),
                expiresAt: Date(timeIntervalSince1970: 0), idToken: nil, tokenType: "Bearer")
            #expect(
                try AccessTokenText.render(grant, format: .headers)
                    == "X-MS-TOKEN-AAD-ACCESS-TOKEN: at\nX-MS-TOKEN-AAD-EXPIRES-ON: 1970-01-01T00:00:00Z")
        }
    }

    @Test func authMePrintsTheAppServiceShape() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let result = try runTokenKeeper(
                [
                    "token", "access", "--spec", try Self.specFile(world), "--tenant", "t1", "--user", "u0",
                    "--provider", "local", "--format", "auth-me",
                ], environment: world.environment)
            let entries = try #require(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
            #expect(entries.count == 1)
            #expect(entries[0]["provider_name"] as? String == "local")
            #expect(entries[0]["user_id"] as? String == "u0")
            #expect(
                entries[0]["access_token"] is String && entries[0]["expires_on"] is String
                    && entries[0]["user_claims"] is [Any])
            // `token import` accepts it: the entry is read, and skipped only for want of a refresh token (none is printed).
            #expect(entries[0]["refresh_token"] == nil)
            let environment = world.environment.merging(["TOKENKEEPER_PRINCIPAL": "pipeline"]) { _, new in new }
            let imported = try runTokenKeeper(
                ["token", "import", "-"], environment: environment, stdin: result.stdout, workingDirectory: folder)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(imported.stdout.contains("added 0, updated 0, skipped 1, failed 0"), "\(imported.stdout)")
            #expect(imported.stderr.contains("entry 1: skipped: has no refresh_token"), "\(imported.stderr)")
            // With the refresh token App Service's token store keeps beside it, the entry lands on this very row.
            var entry = entries[0]
            entry["refresh_token"] = "rt.from-app-service"
            let withToken = String(decoding: try JSONSerialization.data(withJSONObject: [entry]), as: UTF8.self)
            let stored = try runTokenKeeper(
                ["token", "import", "-"], environment: environment, stdin: withToken, workingDirectory: folder)
            #expect(stored.status == 0, "\(stored.stderr)")
            #expect(stored.stdout.contains("added 0, updated 1, skipped 0, failed 0"), "\(stored.stdout)")
            #expect(try world.stored(TokenKey(tenant: "t1", user: "u0", provider: "local")) == "rt.from-app-service")
        }
    }

    @Test func aDeadTokenExitsOneAndTheRowNeedsReauth() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try await world.idp.admin("admin/kill", ["refresh_token": world.tokens[key]!, "code": "AADSTS70043"])
            let result = try runTokenKeeper(
                [
                    "token", "access", "--spec", try Self.specFile(world), "--tenant", "t1", "--user", "u0",
                    "--provider", "local",
                ], environment: world.environment)
            #expect(result.status == 1)
            #expect(result.stderr.contains("AADSTS70043"))
            #expect(try world.row(key).status == .needsReauth)
        }
    }

    @Test func oboStoresTheRefreshTokenUnderTheTenantAndUserOfTheAnswer() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let assertion =
                try await world.idp.admin("admin/assertion", ["tenant": "contoso", "user": "oid-42"])["assertion"]
                as! String
            let result = try runTokenKeeper(
                [
                    "token", "obo", "--spec", try Self.specFile(world), "--provider", "local",
                    "--scope", "api://downstream/.default offline_access",
                ], environment: world.environment, stdin: assertion + "\n")
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("contoso/oid-42/local: stored"))
            #expect(!result.output.contains(assertion))
            let stored = try world.stored(TokenKey(tenant: "contoso", user: "oid-42", provider: "local"))
            #expect(stored.hasPrefix("rt."))
            #expect(try await world.idp.stats()["obo"] == 1)
            let access = try runTokenKeeper(
                [
                    "token", "access", "--spec", try Self.specFile(world), "--tenant", "contoso", "--user", "oid-42",
                    "--provider", "local",
                ], environment: world.environment)
            #expect(access.status == 0, "\(access.stderr)")
        }
    }

    @Test func accessWaitsForAJobsLeaseThenGivesUpWithAClearError() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            #expect(
                try SQLiteTokenStore(path: world.fixture.storePath).acquireLease(
                    key, owner: "job x", until: Date().addingTimeInterval(600)))
            let access = try TokenAccess(
                spec: try world.spec(), principal: "pipeline", environment: world.environment, leaseWait: 1)
            let clock = ContinuousClock()
            let started = clock.now
            let error = await #expect(throws: AccessError.self) { try await access.accessToken(for: key) }
            let waited = clock.now - started
            #expect(waited >= .seconds(1), "gave up after \(waited), before its lease wait of 1 s")
            #expect(waited < .seconds(10), "waited \(waited) for a lease wait of 1 s")
            #expect(error?.description.contains("lease") == true)
            #expect(try await world.idp.stats()["token_requests"] == 0)
        }
    }
}

@Suite(.serialized) struct RefreshNoLeakTests {
    @Test func noRefreshTokenAccessTokenOrClientSecretAppearsInTheRunsOutputOrReports() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 3)
            try await world.idp.admin(
                "admin/kill", ["refresh_token": world.tokens[TokenKey(tenant: "t1", user: "u2", provider: "local")]!])
            _ = try world.fixture.spec(
                JobFixture.header + world.idp.providerYAML() + """
                    stages:
                      - name: refresh-tokens
                        kind: refresh
                        provider: local
                    report:
                      junit: ./reports/r.xml
                      markdown: ./reports/r.md
                      json: ./reports/r.json
                      detail: items
                    """)
            let run = try runTokenKeeper(["run", folder + "/job.yml"], environment: world.environment)
            #expect(run.status == 1, "\(run.stderr)")
            var everything = run.output
            for name in ["r.xml", "r.md", "r.json"] {
                everything += try String(contentsOfFile: folder + "/reports/" + name, encoding: .utf8)
            }
            everything += try String(contentsOfFile: world.fixture.vaultPath + "/audit.log", encoding: .utf8)
            var secrets = Array(world.tokens.values) + [world.idp.clientSecret, world.fixture.masterKey.base64]
            for key in world.tokens.keys where try world.row(key).status == .active {
                secrets.append(try world.stored(key))
            }
            // Every access token the provider issued: one per sign-in and one per redemption of this run.
            let accessTokens = try #require(
                try await world.idp.admin("admin/access_tokens")["access_tokens"] as? [String])
            #expect(accessTokens.count == 3 + 2)
            secrets += accessTokens
            for secret in secrets { #expect(!everything.contains(secret)) }
            #expect(everything.contains("AADSTS700082"))
        }
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support

#if canImport(Glibc)
    import Glibc
    @testable import Vault
#endif

/// The refresh stage against the real (Authlib) identity provider on 127.0.0.1.
@Suite(.serialized) struct RefreshStageTests {
    /// A job world with tokens from real sign-ins, signed in `origin` (40 days ago), so they are due.
    struct World {
        let fixture: JobFixture
        let idp: TestIdentityProvider
        var tokens: [TokenKey: String] = [:]

        init(_ folder: String, users: Int = 3, tenants: [String] = ["t1"]) async throws {
            fixture = try JobFixture(folder: folder)
            idp = try TestIdentityProvider()
            let custodian = try fixture.custodian()
            for tenant in tenants {
                for index in 0..<users {
                    let key = TokenKey(tenant: tenant, user: "u\(index)", provider: "local")
                    let token = try await idp.signIn(tenant: tenant, user: key.user)
                    try custodian.put(key, token: SecretText(token), issuedAt: fixture.origin, expiresAt: nil)
                    tokens[key] = token
                }
            }
        }

        var environment: [String: String] {
            fixture.environment.merging(["IDP_CLIENT_SECRET": idp.clientSecret]) { _, new in new }
        }

        func spec(
            _ stage: String = "", clientAuth: String = "client_secret_post",
            secretVariable: String = "IDP_CLIENT_SECRET"
        ) throws -> JobSpec {
            try fixture.spec(
                JobFixture.header + idp.providerYAML(secretVariable: secretVariable, clientAuth: clientAuth) + """
                    stages:
                      - name: refresh-tokens
                        kind: refresh
                        provider: local
                        refresh_after: 7d
                        concurrency: 4
                        retries: 3
                        request_timeout: 5s
                    \(stage)
                    """)
        }

        func run(_ spec: JobSpec, dryRun: Bool = false, environment extra: [String: String] = [:]) async throws
            -> StageReport
        {
            var options = RunOptions(
                defaultPrincipal: "pipeline", environment: environment.merging(extra) { _, new in new })
            options.dryRun = dryRun
            options.lockTimeout = 5
            return try #require(try await JobRunner(spec: spec, options: options).run().stages.first)
        }

        func stored(_ key: TokenKey) throws -> String { try fixture.custodian().open(key).revealed }
        func row(_ key: TokenKey) throws -> StoredToken {
            try #require(try SQLiteTokenStore(path: fixture.storePath).get(key))
        }
    }

    @Test func dueTokensAreRedeemedAndTheRotatedTokenIsCommittedUnderTheNewestKey() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder)
            // A rotation added version 2 after the tokens were sealed under version 1 (and has not rewrapped them).
            #expect(try world.fixture.custodian().vault.addVersion(to: "t1").number == 2)
            #expect(try world.fixture.versionCounts("t1") == [1: 3])
            let stage = try await world.run(try world.spec())
            #expect(stage.result == .passed, "\(stage.cases)")
            #expect(stage.count(.tokensRefreshed) == 3)
            for (key, old) in world.tokens {
                let new = try world.stored(key)
                #expect(new != old && new.hasPrefix("rt."))
                #expect(try world.row(key).status == .active)
                #expect(try world.row(key).keyVersion == 2, "committed under the newest key version")
                #expect(try await !world.idp.familyIsDead(new))
            }
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
        }
    }

    @Test func aTokenRefreshedWithinTheWindowIsNotRedeemedAgain() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder)
            let spec = try world.spec()
            _ = try await world.run(spec)
            let redemptions = try await world.idp.stats()["redemptions"]
            let again = try await world.run(spec)
            #expect(again.count(.tokensDue) == 0)
            #expect(again.count(.tokensRefreshed) == 0)
            #expect(try await world.idp.stats()["redemptions"] == redemptions)
        }
    }

    @Test func deadTokenMarksTheRowNeedsReauthWithTheProvidersCode() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder)
            let victim = TokenKey(tenant: "t1", user: "u1", provider: "local")
            try await world.idp.admin("admin/kill", ["refresh_token": world.tokens[victim]!, "code": "AADSTS700082"])
            let stage = try await world.run(try world.spec())
            let item = try #require(stage.case(victim.description))
            #expect(item.failureType == .reauthRequired)
            #expect(item.code == "AADSTS700082")
            #expect(try world.row(victim).status == .needsReauth)
            #expect(try world.row(victim).lastErrorCode == "AADSTS700082")
            #expect(stage.count(.tokensRefreshed) == 2)
        }
    }

    @Test func interactionRequiredIsADeadTokenToo() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try await world.idp.admin(
                "admin/kill", ["refresh_token": world.tokens[key]!, "code": "interaction_required"])
            let stage = try await world.run(try world.spec())
            let item = try #require(stage.case(key.description))
            #expect(item.failureType == .reauthRequired)
            #expect(item.code == "AADSTS50076")
            #expect(item.message.contains("interaction_required"))
            #expect(try world.row(key).status == .needsReauth)
        }
    }

    @Test func tooManyRequestsIsRetriedAfterRetryAfterAndSlowsTheWholeStage() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 6)
            // The first request gets 429 with Retry-After: 2; the other three workers' first answers come 1 s later,
            // so without a stage-wide pause their next requests would go out before the 2 s are over.
            try await world.idp.admin("admin/faults", ["status": 429, "retry_after": 2, "count": 1])
            try await world.idp.admin("admin/faults", ["delay": 1, "count": 3])
            let stage = try await world.run(try world.spec())
            #expect(stage.result == .passed, "\(stage.cases)")
            #expect(stage.count(.tokensRefreshed) == 6)
            #expect(stage.count(.rateLimited) == 1)
            let requests = try await world.idp.requests()
            let limited = try #require(requests.first { $0.fault == "status 429" })
            let later = requests.filter { $0.fault == nil }.map(\.time).sorted()
            #expect(later.count == 3, "the retry and the last two rows: \(requests)")
            // Retried after Retry-After, and no worker sent anything before it was over.
            #expect(later.allSatisfy { $0 >= limited.time + 1.95 }, "\(later.map { $0 - limited.time })")
            // And the stage's rate is halved (without max_rate it counts from 20/s: now 10/s), so the three go out about
            // 0.1 s apart, the last one 0.2 s after the pause (unpaced, a few milliseconds after it). Judged on when the
            // last one arrived, which a loaded machine can only make later, never earlier: the provider records a
            // request when it handles it, and under load it may handle several at once.
            #expect(
                later.last! - limited.time >= 2.15,
                "requests \(later.map { $0 - limited.time }) s after the 429 are not paced")
        }
    }

    @Test func everyWorkerHasAConnectionOfItsOwnSoNoRequestWaitsUnsentWhileItsRowIsLeased() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 8)
            try await world.idp.admin("admin/faults", ["delay": 2, "count": 8])
            let stage = try await world.run(try world.spec().replacingConcurrency(8))
            #expect(stage.count(.tokensRefreshed) == 8, "\(stage.cases)")
            let arrivals = try await world.idp.requests().map(\.time)
            #expect(arrivals.count == 8)
            // With fewer connections than workers, the requests beyond them would arrive only as the first answers
            // came back (2 s later).
            #expect(arrivals.max()! - arrivals.min()! < 1.5, "\(arrivals.map { $0 - arrivals.min()! })")
        }
    }

    @Test func serverErrorsAndDroppedConnectionsAreRetried() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder)
            try await world.idp.admin("admin/faults", ["status": 503, "count": 1])
            try await world.idp.admin("admin/faults", ["drop": true, "count": 1])
            let stage = try await world.run(try world.spec())
            #expect(stage.result == .passed, "\(stage.cases)")
            #expect(stage.count(.tokensRefreshed) == 3)
            #expect(try await world.idp.stats()["faults"] == 2)
        }
    }

    @Test func transientFailuresBeyondTheRetriesFailTheTokenForNowAndKeepIt() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            try await world.idp.admin("admin/faults", ["status": 500, "count": 10])
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let stage = try await world.run(try world.spec().replacingRetries(1, world: world))
            let item = try #require(stage.case(key.description))
            #expect(item.failureType == .transient)
            #expect(try world.row(key).status == .active)
            #expect(try world.row(key).failureCount == 1)
            #expect(try world.stored(key) == world.tokens[key])
        }
    }

    @Test func badClientCredentialsStopTheStageAtOnce() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 20)
            let stage = try await world.run(try world.spec(), environment: ["IDP_CLIENT_SECRET": "wrong"])
            #expect(stage.result == .failed)
            let stop = try #require(stage.cases.first { $0.status == .errored })
            #expect(stop.failureType == .configuration)
            #expect(stop.message.contains("invalid_client"))
            #expect(stage.summary.hasPrefix("stopped:"))
            // Each of the 4 workers makes at most one request before it sees the stop.
            #expect(try await world.idp.stats()["token_requests"]! <= 4)
            for key in world.tokens.keys { #expect(try world.row(key).status == .active) }
        }
    }

    @Test func clientSecretBasicAuthenticatesToo() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            let stage = try await world.run(try world.spec(clientAuth: "client_secret_basic"))
            #expect(stage.count(.tokensRefreshed) == 1, "\(stage.cases)")
        }
    }

    @Test func anAnswerWithoutANewRefreshTokenKeepsTheOldOne() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            try await world.idp.admin("admin/faults", ["omit_refresh_token": true, "count": 1])
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let stage = try await world.run(try world.spec())
            #expect(stage.count(.tokensRefreshed) == 1)
            #expect(try world.stored(key) == world.tokens[key])
            #expect(try world.row(key).refreshedAt > world.fixture.origin)
        }
    }

    @Test func aRowLeftLeasedByADeadRunIsNotRedeemedButNeedsReauth() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 2)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let store = try SQLiteTokenStore(path: world.fixture.storePath)
            #expect(
                try store.acquireLease(
                    key, owner: "job dead-run", until: Date().addingTimeInterval(-1),
                    now: Date().addingTimeInterval(-600)))
            let stage = try await world.run(try world.spec())
            #expect(stage.case(key.description)?.code == "interrupted_refresh")
            #expect(try world.row(key).status == .needsReauth)
            #expect(try await world.idp.stats()["redemptions"] == 1)
            #expect(try await !world.idp.familyIsDead(world.tokens[key]!))
        }
    }

    @Test func aRowLeasedByAWebRequestNowIsLeftAlone() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 2)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            let store = try SQLiteTokenStore(path: world.fixture.storePath)
            #expect(try store.acquireLease(key, owner: "web request", until: Date().addingTimeInterval(600)))
            let stage = try await world.run(try world.spec())
            #expect(stage.count(.tokensRefreshed) == 1)
            #expect(try world.stored(key) == world.tokens[key])
        }
    }

    @Test func dryRunCountsWhatIsDueAndCallsNobody() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder)
            let stage = try await world.run(try world.spec(), dryRun: true)
            #expect(stage.count(.tokensDue) == 3)
            #expect(stage.case("t1")?.message == "would refresh 3 tokens")
            #expect(try await world.idp.stats()["token_requests"] == 0)
        }
    }

    @Test func revokeAtProviderRevokesTheFamilyBeforeTheRecordGoes() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 2)
            let spec = try world.fixture.spec(
                JobFixture.header + world.idp.providerYAML() + """
                    stages:
                      - name: offboard
                        kind: revoke
                        users: [t1/u0]
                        at_provider: true
                    """)
            let stage = try await world.run(spec)
            #expect(stage.result == .passed, "\(stage.cases)")
            #expect(try await world.idp.stats()["revocations"] == 1)
            #expect(
                try await world.idp.familyIsDead(world.tokens[TokenKey(tenant: "t1", user: "u0", provider: "local")]!))
            #expect(
                try await !world.idp.familyIsDead(world.tokens[TokenKey(tenant: "t1", user: "u1", provider: "local")]!))
            #expect(try SQLiteTokenStore(path: world.fixture.storePath).count() == 1)
        }
    }
}

extension JobSpec {
    /// This spec with provider `local`'s token endpoint replaced.
    func replacingTokenEndpoint(with endpoint: String) throws -> JobSpec {
        var copy = self
        copy.providers["local"]?.tokenEndpoint = try #require(URL(string: endpoint))
        return copy
    }

    /// This spec with the refresh stage's concurrency replaced.
    func replacingConcurrency(_ concurrency: Int) -> JobSpec {
        var copy = self
        if case .refresh(var options) = copy.stages[0].options {
            options.concurrency = concurrency
            copy.stages[0].options = .refresh(options)
        }
        return copy
    }

    /// This spec with the refresh stage's retries replaced (tests of the retry limit).
    func replacingRetries(_ retries: Int, world: RefreshStageTests.World) throws -> JobSpec {
        var copy = self
        if case .refresh(var options) = copy.stages[0].options {
            options.retries = retries
            copy.stages[0].options = .refresh(options)
        }
        return copy
    }
}

@Suite(.serialized) struct RefreshDueTests {
    @Test func aTokenExpiringWithinTheWindowIsDueEvenIfRefreshedRecently() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 2)
            let custodian = try world.fixture.custodian()
            let now = Date()
            let soon = TokenKey(tenant: "t1", user: "u0", provider: "local"),
                later = TokenKey(tenant: "t1", user: "u1", provider: "local")
            try custodian.put(
                soon, token: SecretText(world.tokens[soon]!), issuedAt: now,
                expiresAt: now.addingTimeInterval(3 * 86_400))
            try custodian.put(
                later, token: SecretText(world.tokens[later]!), issuedAt: now,
                expiresAt: now.addingTimeInterval(60 * 86_400))
            let stage = try await world.run(try world.spec("    expiring_within: 14d"))
            #expect(stage.count(.tokensDue) == 1)
            #expect(try world.stored(soon) != world.tokens[soon])
            #expect(try world.stored(later) == world.tokens[later])
        }
    }
}

/// The Entra profile (rotating refresh tokens) against the local provider.
@Suite(.serialized) struct RotatingProviderTests {
    static func entraSpec(_ world: RefreshStageTests.World) throws -> JobSpec {
        try world.fixture.spec(
            JobFixture.header + """
                providers:
                  local:
                    kind: entra
                    token_endpoint: \(world.idp.tokenEndpoint)
                    client_id: tokenkeeper
                    client_secret: env:IDP_CLIENT_SECRET
                    scope: offline_access
                stages:
                  - name: refresh-tokens
                    kind: refresh
                    provider: local
                    retries: 3
                    request_timeout: 5s
                """)
    }

    @Test func entraTokensAreRefreshedAndRotated() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 2)
            let stage = try await world.run(try Self.entraSpec(world))
            #expect(stage.count(.tokensRefreshed) == 2, "\(stage.cases)")
            for (key, old) in world.tokens { #expect(try world.stored(key) != old) }
        }
    }

    /// Whether the provider saw `token` redeemed (used), or nil for a token it never issued.
    static func redeemed(_ token: String, at idp: TestIdentityProvider) async throws -> Bool? {
        let tokens = try await idp.admin("admin/tokens", ["refresh_tokens": [token]])["tokens"] as? [String: Any]
        return (tokens?[token] as? [String: Any])?["used"] as? Bool
    }

    @Test func aConnectionDroppedBeforeAnAnswerIsNotRetriedSoARotatedTokenIsNeverRedeemedTwice() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try await world.idp.admin("admin/faults", ["drop": true, "count": 1])
            let stage = try await world.run(try Self.entraSpec(world))
            let item = try #require(stage.case(key.description))
            // Without an answer tokenkeeper cannot tell whether the provider rotated the token: it keeps it, and
            // never redeems it again (that could revoke its family); the user signs in again.
            #expect(item.failureType == .reauthRequired)
            #expect(item.code == "unanswered_refresh")
            #expect(item.message.contains("after 1 attempt"))
            #expect(try world.row(key).status == .needsReauth)
            #expect(try world.stored(key) == world.tokens[key])
            #expect(try await world.idp.stats()["token_requests"] == 1)
            let next = try await world.run(try Self.entraSpec(world))
            #expect(next.count(.tokensDue) == 0)
            #expect(try await world.idp.stats()["token_requests"] == 1)
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
        }
    }

    @Test func anAnswerLostAfterTheProviderRotatedTheTokenNeverLeadsToRedeemingItAgain() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            try await world.idp.admin("admin/faults", ["drop_answer": true, "count": 1])
            let stage = try await world.run(try Self.entraSpec(world))
            #expect(
                try await Self.redeemed(world.tokens[key]!, at: world.idp) == true,
                "the provider rotated the token, its answer was lost")
            #expect(stage.case(key.description)?.code == "unanswered_refresh")
            #expect(try world.row(key).status == .needsReauth)
            _ = try await world.run(try Self.entraSpec(world))
            #expect(try await world.idp.stats()["reuse_detected"] == 0)
            #expect(try await !world.idp.familyIsDead(world.tokens[key]!))
        }
    }

    @Test func aProviderThatCannotBeReachedIsRetriedAndTheTokenKept() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 1)
            let key = TokenKey(tenant: "t1", user: "u0", provider: "local")
            // A port nobody listens on: the connection is refused, so the request never reached a provider.
            let closed = try Self.entraSpec(world).replacingTokenEndpoint(
                with: "http://127.0.0.1:\(try Self.closedPort())/token")
            let stage = try await world.run(closed.replacingRetries(1, world: world))
            let item = try #require(stage.case(key.description))
            #expect(item.failureType == .transient, "\(item.message)")
            #expect(item.message.contains("after 2 attempts"), "\(item.message)")
            #expect(try world.row(key).status == .active)
            #expect(try world.stored(key) == world.tokens[key])
            let next = try await world.run(try Self.entraSpec(world))
            #expect(next.count(.tokensRefreshed) == 1, "\(next.cases)")
        }
    }

    /// A loopback port that was free a moment ago (bound, then closed), so connecting to it is refused.
    static func closedPort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        guard bound else { throw GeneralError(item: "a loopback port", problem: "could not be bound", remedy: "") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

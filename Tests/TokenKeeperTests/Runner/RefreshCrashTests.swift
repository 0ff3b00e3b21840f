import Foundation
import Testing

@testable import Report
@testable import Store
@testable import Support

#if canImport(Glibc)
    import Glibc
    @testable import Custody
#endif

/// Crash safety of refresh, for real (I3, I8): `tokenkeeper run` refreshing hundreds of tokens against
/// the rotating, reuse-detecting identity provider is killed with SIGKILL at different moments and run
/// again. Every row must still hold its own user's usable token, except at most the ones in flight at the
/// kill (redeemed, their answer lost), which must be reported as needs_reauth; no token family may be
/// burned by redeeming a rotated token again. On the embedded default and on PostgreSQL (vault and store
/// there).
@Suite(.serialized) struct RefreshCrashTests {
    static let usersPerRound = 400
    static let concurrency = 8

    @Test(.serialized, arguments: CrashBackend.allCases)
    func refreshKilledAtManyMomentsLosesNothingButTheTokensInFlight(_ backend: CrashBackend) async throws {
        try await withTemporaryDirectory { root in
            let fixture = try CrashWorld(backend, folder: root + "/world")
            defer { fixture.remove() }
            let idp = try TestIdentityProvider()
            let specPath = fixture.folder + "/job.yml"
            try Data(
                (fixture.header + idp.providerYAML() + """
                    stages:
                      - name: refresh-tokens
                        kind: refresh
                        provider: local
                        refresh_after: 7d
                        concurrency: \(Self.concurrency)
                        retries: 1
                        request_timeout: 5s
                        lease: 1s
                    report:
                      json: ./report.json
                      detail: summary
                    """).utf8
            ).write(to: URL(fileURLWithPath: specPath))
            let environment = try fixture.environment.merging(["IDP_CLIENT_SECRET": idp.clientSecret, "CI": "true"]) {
                _, new in new
            }

            // Round 0 runs uninterrupted to learn how long a round takes; the others are killed part-way, the
            // moment adapting to how the last kill landed (machines and loads differ, the test must not).
            var roundTime: TimeInterval = 0
            var delay: TimeInterval = 0
            var landedMidRun = 0
            // rows given up whose token the provider had rotated: the answer died with the run
            var redeemedInFlight = 0
            for round in 0..<8 {
                let tenant = "round-\(round)"
                let users = (0..<Self.usersPerRound).map { "u\($0)" }
                let signedIn =
                    try await idp.admin("admin/signin", ["tenant": tenant, "users": users])["refresh_tokens"]
                    as! [String]
                // Every blocking step (stores, processes, sleeps) runs off the shared pool (offThePool), so this
                // long test never holds one of the few threads the other tests' async code needs.
                try await offThePool {
                    let custodian = try fixture.custodian()
                    for (user, token) in zip(users, signedIn) {
                        try custodian.put(
                            TokenKey(tenant: tenant, user: user, provider: "local"), token: SecretText(token),
                            issuedAt: fixture.origin, expiresAt: nil)
                    }
                }
                let custodian = try fixture.custodian()
                var leasedAtKill: Set<TokenKey> = []  // the rows whose refresh was in flight when the run was killed
                if round == 0 {
                    let started = Date()
                    let run = try await offThePool { try runTokenKeeper(["run", specPath], environment: environment) }
                    roundTime = Date().timeIntervalSince(started)
                    #expect(run.status == 0, "\(run.stderr)")
                } else {
                    if delay == 0 { delay = roundTime * 0.5 }
                    let wait = delay * (0.7 + 0.1 * Double(round % 4))
                    let killed = try await offThePool { () -> Bool in
                        let process = Process()
                        process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
                        process.arguments = ["run", specPath]
                        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                        process.standardOutput = FileHandle.nullDevice
                        process.standardError = FileHandle.nullDevice
                        try process.run()
                        usleep(useconds_t(wait * 1_000_000))
                        kill(process.processIdentifier, SIGKILL)
                        process.waitUntilExit()
                        return process.terminationReason == .uncaughtSignal
                    }
                    try fixture.settleAfterKill()
                    let atKill = try fixture.rows(tenant: tenant)
                    let refreshedBeforeRerun = atKill.filter { $0.refreshedAt > fixture.origin }.count
                    leasedAtKill = Set(atKill.filter { $0.leaseOwner != nil }.map(\.key))
                    if !killed || refreshedBeforeRerun == Self.usersPerRound {
                        delay *= 0.6  // too late: the run had finished
                    } else if refreshedBeforeRerun == 0 {
                        delay *= 1.5  // too early: nothing had been refreshed yet
                    } else {
                        landedMidRun += 1
                    }
                    try await Task.sleep(nanoseconds: 2_100_000_000)  // let the killed run's leases (1 s) run out
                    let rerun = try await offThePool {
                        try runTokenKeeper(["run", specPath], environment: environment)
                    }
                    #expect(rerun.status <= 1, "\(rerun.stderr)")
                }
                // Every row of the round ends active or needs_reauth (none revoked, none with its token dropped).
                let rows = try fixture.rows(tenant: tenant)
                #expect(rows.count == Self.usersPerRound)
                let inFlight = rows.filter { $0.status == .needsReauth }
                #expect(
                    rows.filter { $0.status == .active }.count + inFlight.count == Self.usersPerRound,
                    "round \(round): \(rows.filter { $0.status != .active && $0.status != .needsReauth }.count) rows are neither active nor needs_reauth"
                )
                #expect(inFlight.count <= Self.concurrency, "round \(round): \(inFlight.count) tokens need reauth")
                // Given up are exactly the rows in flight at the kill: none needlessly, none redeemed again. (Whether
                // an in-flight token reached the provider, the product cannot know: a kill can land after the lease
                // and before the request leaves the process.)
                #expect(
                    Set(inFlight.map(\.key)) == leasedAtKill,
                    "round \(round): \(inFlight.count) rows need reauth, \(leasedAtKill.count) were in flight")
                #expect(inFlight.allSatisfy { $0.lastErrorCode == "interrupted_refresh" }, "round \(round)")
                #expect(
                    rows.allSatisfy { $0.status != .active || $0.refreshedAt > fixture.origin },
                    "round \(round): a due token was left unrefreshed")
                redeemedInFlight += try await Self.expectTokensBelongToTheirRows(
                    rows, tenant: tenant, custodian: custodian, idp: idp, round: round)
            }
            #expect(
                redeemedInFlight > 0, "no kill landed between a redemption and its commit, the case this test is for")
            #expect(try await idp.stats()["reuse_detected"] == 0)
            #expect(landedMidRun >= 2, "only \(landedMidRun) kills landed mid-run (round time \(roundTime) s)")
        }
    }

    /// Asks the provider about the token every row holds (a needs_reauth row keeps its last one): each must
    /// be one the provider issued to that row's user, so no token was swapped between rows or shared by two,
    /// and an active row's must be redeemable.
    /// - Returns: how many needs_reauth rows hold a token the provider had already redeemed.
    static func expectTokensBelongToTheirRows(
        _ rows: [StoredToken], tenant: String, custodian: TokenCustodian,
        idp: TestIdentityProvider, round: Int
    ) async throws -> Int {
        let held = rows.filter { $0.sealedToken != nil }
        #expect(held.count == rows.count, "round \(round): \(rows.count - held.count) rows hold no token")
        let tokens = try held.map { try custodian.open($0).revealed }
        #expect(
            Set(tokens).count == tokens.count,
            "round \(round): \(tokens.count - Set(tokens).count) tokens are held by two rows")
        let facts = try #require(
            try await idp.admin("admin/tokens", ["refresh_tokens": tokens])["tokens"] as? [String: Any])
        var notUsable = 0, notTheirs = 0, redeemedInFlight = 0
        for (row, token) in zip(held, tokens) {
            let fact = facts[token] as? [String: Any]
            if fact?["tenant"] as? String != tenant || fact?["user"] as? String != row.key.user { notTheirs += 1 }
            if row.status == .active, fact?["used"] as? Bool != false || fact?["dead"] as? Bool != false {
                notUsable += 1
            }
            if row.status == .needsReauth, fact?["used"] as? Bool == true { redeemedInFlight += 1 }
        }
        #expect(
            notTheirs == 0,
            "round \(round): \(notTheirs) rows hold a token the provider issued to another user (or never issued)")
        #expect(notUsable == 0, "round \(round): \(notUsable) active tokens are not usable")
        return redeemedInFlight
    }
}

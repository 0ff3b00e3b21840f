import Foundation
import Testing
@testable import TokenKeeper

#if canImport(Glibc)
import Glibc
#endif

/// Crash safety of refresh, for real (I3, I8): `tokenkeeper run` refreshing hundreds of tokens against
/// the rotating, reuse-detecting identity provider is killed with SIGKILL at different moments and run
/// again. Every token must still be usable, except at most the ones in flight at the kill, which must be
/// reported as needs_reauth; no token family may be burned by redeeming a rotated token again.
@Suite(.serialized) struct RefreshCrashTests {
    static let usersPerRound = 400
    static let concurrency = 8

    @Test func refreshKilledAtManyMomentsLosesNothingButTheTokensInFlight() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let idp = try TestIdentityProvider()
            let specPath = folder + "/job.yml"
            _ = try fixture.spec(JobFixture.header + idp.providerYAML() + """
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
                """)
            let environment = fixture.environment.merging(["IDP_CLIENT_SECRET": idp.clientSecret, "CI": "true"]) { _, new in new }

            // Round 0 runs uninterrupted to learn how long a round takes; the others are killed part-way, the
            // moment adapting to how the last kill landed (machines and loads differ, the test must not).
            var roundTime: TimeInterval = 0
            var delay: TimeInterval = 0
            var landedMidRun = 0
            for round in 0..<8 {
                let tenant = "round-\(round)"
                let users = (0..<Self.usersPerRound).map { "u\($0)" }
                let signedIn = try await idp.admin("admin/signin", ["tenant": tenant, "users": users])["refresh_tokens"] as! [String]
                let custodian = try fixture.custodian()
                for (user, token) in zip(users, signedIn) {
                    try custodian.put(TokenKey(tenant: tenant, user: user, provider: "local"), token: SecretText(token),
                                      issuedAt: fixture.origin, expiresAt: nil)
                }
                if round == 0 {
                    let started = Date()
                    let run = try runTokenKeeper(["run", specPath], environment: environment)
                    roundTime = Date().timeIntervalSince(started)
                    #expect(run.status == 0, "\(run.stderr)")
                } else {
                    let process = Process()
                    process.executableURL = URL(fileURLWithPath: TestEnvironment.tokenkeeperExecutable)
                    process.arguments = ["run", specPath]
                    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
                    process.standardOutput = FileHandle.nullDevice
                    process.standardError = FileHandle.nullDevice
                    try process.run()
                    if delay == 0 { delay = roundTime * 0.5 }
                    usleep(useconds_t(delay * (0.7 + 0.1 * Double(round % 4)) * 1_000_000))
                    kill(process.processIdentifier, SIGKILL)
                    process.waitUntilExit()
                    let refreshedBeforeRerun = try Self.rows(fixture, tenant: tenant).filter { $0.refreshedAt > fixture.origin }.count
                    if process.terminationReason != .uncaughtSignal || refreshedBeforeRerun == Self.usersPerRound {
                        delay *= 0.6  // too late: the run had finished
                    } else if refreshedBeforeRerun == 0 {
                        delay *= 1.5  // too early: nothing had been refreshed yet
                    } else {
                        landedMidRun += 1
                    }
                    usleep(2_100_000)  // let the killed run's leases (1 s) run out
                    let rerun = try runTokenKeeper(["run", specPath], environment: environment)
                    #expect(rerun.status <= 1, "\(rerun.stderr)")
                }
                // Every row of the round: active and usable at the provider, or needs_reauth because it was in flight.
                let rows = try Self.rows(fixture, tenant: tenant)
                #expect(rows.count == Self.usersPerRound)
                var stored: [String] = []
                for row in rows where row.status == .active { stored.append(try custodian.open(row).revealed) }
                let usable = try await idp.admin("admin/check", ["refresh_tokens": stored])["usable"] as! [String: Bool]
                #expect(usable.values.allSatisfy { $0 }, "round \(round): \(usable.values.filter { !$0 }.count) active tokens are not usable")
                let inFlight = rows.filter { $0.status == .needsReauth }
                #expect(inFlight.count <= Self.concurrency, "round \(round): \(inFlight.count) tokens need reauth")
                #expect(inFlight.allSatisfy { $0.lastErrorCode == "interrupted_refresh" }, "round \(round)")
                #expect(rows.allSatisfy { $0.status != .active || $0.refreshedAt > fixture.origin }, "round \(round): a due token was left unrefreshed")
            }
            #expect(try await idp.stats()["reuse_detected"] == 0)
            #expect(landedMidRun >= 2, "only \(landedMidRun) kills landed mid-run (round time \(roundTime) s)")
        }
    }

    static func rows(_ fixture: JobFixture, tenant: String) throws -> [StoredToken] {
        var rows: [StoredToken] = []
        try SQLiteTokenStore(path: fixture.storePath).forEach(tenant: tenant) { rows.append($0); return true }
        return rows
    }
}

import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support

/// Losing the PostgreSQL server in the middle of a refresh (issue 15 point 6), however it is lost: the
/// job refreshes 8 tokens of `t1`, its first requests hang at the provider for `stall` seconds, and
/// meanwhile `loseServer` takes the server away. Then: the run fails transiently naming PostgreSQL,
/// nothing is lost (every row holds its token, the per-version counts equal a recount), and the next run
/// finishes, giving up at most the rows whose request was in flight (their lease outlived the run).
enum ServerLossScenario {
    static func run(world: PostgresJobWorld, stall: Double, loseServer: () async throws -> Void) async throws {
        let users = (0..<8).map { "u\($0)" }
        try await world.signIn(tenant: "t1", users: users)
        let specPath = try world.writeSpec(
            """
            stages:
              - name: refresh-tokens
                kind: refresh
                provider: local
                refresh_after: 7d
                concurrency: 2
                retries: 0
                request_timeout: 10s

            """)
        let spec = try JobSpec.load(path: specPath)
        var options = RunOptions(defaultPrincipal: "pipeline", environment: world.environment)
        options.lockTimeout = 5
        // The first requests hang a moment, then fail (transient, nothing redeemed): meanwhile the server goes.
        try await world.idp.admin("admin/faults", ["delay": stall, "status": 503, "count": 2])
        let runOptions = options
        let job = Task { try await JobRunner(spec: spec, options: runOptions).run() }
        var waited = 0
        while try await world.idp.requests().isEmpty, waited < 300 {
            try await Task.sleep(nanoseconds: 50_000_000)
            waited += 1
        }
        try #require(waited < 300, "the job never reached the provider")
        try await loseServer()
        let report = try await job.value
        #expect(report.exitStatus == .itemsFailed)
        let stage = try #require(report.stages.first)
        #expect(stage.result == .failed)
        let lost = stage.cases.filter { $0.failureType == .transient && ($0.code ?? "").hasPrefix("postgres_") }
        #expect(!lost.isEmpty, "\(stage.cases.map { "\($0.name): \($0.code ?? "") \($0.message)" })")
        // Nothing lost: every row still holds its token, and the per-version counts equal a recount.
        let opened = try world.openEveryToken()
        #expect(opened.count == users.count)
        let recount = try world.connection().query(
            """
            SELECT (SELECT count(*) FROM tokens WHERE tenant = 't1' AND key_version = 1 AND sealed_token IS NOT NULL)
                + (SELECT count(*) FROM token_keys k JOIN tokens t ON t.id = k.token_id
                   WHERE k.tenant = 't1' AND k.key_version = 1 AND t.sealed_token IS NOT NULL)
            """, purpose: "recount both row formats")
        #expect(try world.custodian().store.keyVersionCounts(tenant: "t1") == [1: Int(recount.int(0, 0))])
        // The next run finishes: no transient failure; the rows whose request was in flight when the server
        // went are given up as needs_reauth (their lease outlived the run), every other one is refreshed.
        let next = try await JobRunner(spec: spec, options: options).run()
        let cases = try #require(next.stages.first).cases
        #expect(!cases.contains { $0.failureType == .transient }, "\(cases.map(\.message))")
        #expect(cases.filter { $0.failureType == .reauthRequired }.count <= 2)
        #expect(try await world.idp.stats()["reuse_detected"] == 0)
        let after = try world.openEveryToken()
        #expect(after.count == users.count)
        let usable = try await world.idp.admin("admin/check", ["refresh_tokens": Array(after.tokens.values)])
        let usableCount = (usable["usable"] as? [String: Bool])?.values.filter { $0 }.count ?? 0
        #expect(usableCount >= users.count - 2)
    }
}

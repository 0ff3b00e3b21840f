import Foundation
import Testing

@testable import Custody
@testable import PostgresClient
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support

/// Losing the server mid-job by a restart (issue 15 point 6): every session of the job ends and, for a
/// moment, no new one can be made. Against a server of the test's own, which it restarts.
@Suite struct PostgresRestartTests {
    @Test func aServerRestartMidRefreshIsTransientLosesNothingAndTheNextRunFinishes() async throws {
        let server = try await offThePool { try PostgresTestServer.dedicated() }
        defer { server.stop() }
        try await withTemporaryDirectory { folder in
            let world = try await PostgresJobWorld.make(folder: folder, server: server)
            let serverStart = "SELECT pg_postmaster_start_time()::text"
            let started = try world.connection().query(serverStart, purpose: "test: server start").text(0, 0)
            try await ServerLossScenario.run(world: world, stall: 2.0) {
                try await offThePool { try server.restart() }
            }
            // It did restart: a new postmaster.
            #expect(try world.connection().query(serverStart, purpose: "test").text(0, 0) != started)
        }
    }
}

import Foundation
import Support
import Testing

@testable import PostgresClient
@testable import Store

/// `state copy` freezes a PostgreSQL store with a mark that every write checks. A write that checked the
/// store unmarked must commit before the mark does (so the copy, which reads after the mark, sees it);
/// otherwise a web host's write could land at the source after the copy read that row, and be lost.
@Suite struct PostgresStateMarkGateTests {
    @Test func theMarkWaitsForAWriteThatCheckedTheStoreUnmarkedToCommit() throws {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        _ = try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test")
        let copier = try PostgresTokenStore(
            connectionString: connectionString, location: "postgres:test", readOnly: false)
        let key = TokenKey(tenant: "t1", user: "late", provider: "p")
        let checked = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Locked<(any Error)?>(nil)
        Thread.detachNewThread {
            do {
                let writer = try PostgresTokenStore(connectionString: connectionString, location: "postgres:test")
                try writer.connection.transaction(purpose: "a slow write") {
                    try writer.requireUnmarked()
                    checked.signal()
                    Thread.sleep(forTimeInterval: 1.0)
                    try writer.put(
                        StoredToken(key: key, secretName: "t1", keyVersion: 1, sealedToken: [1], issuedAt: Date()))
                }
            } catch {
                outcome.update { $0 = error }
            }
            finished.signal()
        }
        #expect(checked.wait(timeout: .now() + 20) == .success)
        try copier.setStateMark(StateMark(kind: .frozen, peer: "postgres:env:DEST", copyID: "copy-1"))
        // The mark is in: whatever the copy reads now must include the write that passed the check.
        #expect(try copier.get(key) != nil, "a write that checked the store unmarked landed after the mark")
        #expect(finished.wait(timeout: .now() + 20) == .success)
        #expect(outcome.value == nil, "\(String(describing: outcome.value))")
    }
}

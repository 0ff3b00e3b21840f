import Foundation
import Support
import Testing

@testable import PostgresClient
@testable import Store

/// What the PostgreSQL store does beyond the ``TokenStore`` contract (which `StoreConformanceTests` runs
/// against it): the database's clock, migrations recorded in the database, errors that never show the
/// connection string, and a lost connection reported as transient. Against the test process's server.
@Suite struct PostgresTokenStoreTests {
    static let key = TokenKey(tenant: "a", user: "u", provider: "p")

    /// A new store in a new database of the test server, with the clock production uses.
    private func newStore() throws -> (store: PostgresTokenStore, connectionString: String) {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        return (
            try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test"),
            connectionString
        )
    }

    /// The description of the ``StoreError`` `body` throws, nil if it throws none.
    private func storeError(_ body: () throws -> Any) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return (error as? StoreError)?.description
        }
    }

    /// A row of ``key`` refreshed at `refreshedAt`.
    private func token(refreshedAt: Date) -> StoredToken {
        StoredToken(key: Self.key, secretName: "a", keyVersion: 1, sealedToken: [1], issuedAt: refreshedAt)
    }

    @Test func theDatabaseClockJudgesLeasesWhateverClockTheCallerHas() throws {
        let (store, _) = try newStore()
        #expect(store.clock == .database)
        try store.put(token(refreshedAt: Date()))
        // A host whose clock runs a year ahead takes a 60 s lease: it lasts 60 s by the database's clock.
        let aheadNow = Date().addingTimeInterval(365 * 86_400)
        #expect(try store.acquireLease(Self.key, owner: "job", until: aheadNow.addingTimeInterval(60), now: aheadNow))
        let leaseUntil = try #require(try store.get(Self.key)?.leaseUntil)
        #expect(abs(leaseUntil.timeIntervalSinceNow - 60) < 10)
        // Another host whose clock says the lease ran out long ago does not get it.
        #expect(
            try store.acquireLease(
                Self.key, owner: "web", until: aheadNow.addingTimeInterval(500),
                now: aheadNow.addingTimeInterval(400)) == false)
        #expect(try store.get(Self.key)?.leaseOwner == "job")
    }

    @Test func theDatabaseClockJudgesWhichRowsAreDue() throws {
        let (store, _) = try newStore()
        // Refreshed two days ago; due when older than a day.
        try store.put(token(refreshedAt: Date().addingTimeInterval(-2 * 86_400)))
        // A host whose clock runs five days behind would think the row fresh; by the database's clock it is due.
        let behindNow = Date().addingTimeInterval(-5 * 86_400)
        let cutoff = behindNow.addingTimeInterval(-86_400)
        #expect(
            try store.rowsDueForRefresh(
                provider: "p", refreshedBefore: cutoff, expiringBefore: nil, now: behindNow,
                afterID: 0, limit: 10
            ).map(\.key) == [Self.key])
        #expect(
            try store.countDueForRefresh(provider: "p", refreshedBefore: cutoff, expiringBefore: nil, now: behindNow)
                == 1)
    }

    @Test func migrationsAreRecordedInTheDatabaseAndRunOnce() throws {
        let (store, connectionString) = try newStore()
        let versions = { () throws -> [Int64] in
            let rows = try store.connection.query(
                "SELECT version FROM schema_migrations ORDER BY version", purpose: "test")
            return (0..<rows.count).map { rows.int($0, 0) }
        }
        let all = (1...PostgresSchema.currentVersion).map(Int64.init)
        #expect(try versions() == all)
        let reopened = try PostgresTokenStore(connectionString: connectionString, location: "postgres:test")
        #expect(try versions() == all)
        #expect(reopened.identity == store.identity)
        // No new store over an existing one.
        #expect(
            storeError { try PostgresTokenStore.create(connectionString: connectionString, location: "postgres:test") }
                == StoreError.exists(path: "postgres:test").description)
        // A store written by a newer tokenkeeper is refused.
        try store.connection.query(
            "INSERT INTO schema_migrations (version) VALUES ($1)", [.int4(Int32(all.count + 1))], purpose: "test")
        #expect(
            storeError { try PostgresTokenStore(connectionString: connectionString, location: "postgres:test") }
                == StoreError.schemaTooNew(path: "postgres:test", found: all.count + 1, known: all.count).description)
    }

    @Test func aDatabaseWithoutAStoreIsNeverTakenForANewOne() throws {
        let server = try PostgresTestServer.shared()
        let connectionString = server.connectionString(database: try server.createDatabase())
        #expect(
            storeError { try PostgresTokenStore(connectionString: connectionString, location: "postgres:test") }
                == StoreError.empty(path: "postgres:test").description)
        #expect(
            storeError {
                try PostgresTokenStore(connectionString: connectionString, location: "postgres:test", readOnly: true)
            } == StoreError.empty(path: "postgres:test").description)
    }

    @Test func connectionErrorsNameTheLocationButNeverTheConnectionString() throws {
        let server = try PostgresTestServer.shared()
        let strings = [
            // No server there.
            "host=/tmp/no-such-folder-SECRETHOST user=SECRETUSER password=SECRETPASSWORD dbname=SECRETDB",
            // A real server, a database that does not exist.
            "host=\(server.folder) user=\(PostgresTestServer.superuser) password=SECRETPASSWORD dbname=SECRETDB",
            "postgresql://SECRETUSER:SECRETPASSWORD@/SECRETDB?host=\(server.folder)",
        ]
        for connectionString in strings {
            let error = try #require(throws: PostgresError.self) {
                try PostgresTokenStore(
                    connectionString: connectionString, location: "postgres:env:TOKENKEEPER_STORE_URL")
            }
            #expect(error.item == "postgres:env:TOKENKEEPER_STORE_URL")
            #expect(error.kind == .busy)
            let texts = [error.description, String(reflecting: error), error.localizedDescription]
            for text in texts {
                for secret in ["SECRETHOST", "SECRETUSER", "SECRETPASSWORD", "SECRETDB", connectionString] {
                    #expect(!text.contains(secret), "\(text)")
                }
            }
        }
    }

    @Test func aConnectionTheServerEndsIsATransientFailure() throws {
        let (store, connectionString) = try newStore()
        let pid = try store.connection.query("SELECT pg_backend_pid()", purpose: "test").int(0, 0)
        let admin = try PostgresConnection(connectionString: connectionString, location: "admin", readOnly: false)
        try admin.query("SELECT pg_terminate_backend($1)", [.int4(Int32(pid))], purpose: "test")
        let error = try #require(throws: PostgresError.self) { try store.count() }
        #expect(error.kind == .busy)
        #expect(error.item == "postgres:test")
        // Another session works.
        #expect(try store.openSession().count() == 0)
    }

    @Test func aStatementOverItsTimeoutIsCancelledAsATransientFailure() throws {
        let server = try PostgresTestServer.shared()
        let connection = try PostgresConnection(
            connectionString: server.connectionString(database: "postgres"), location: "postgres:test",
            readOnly: false, statementTimeout: 1)
        let started = Date()
        let error = try #require(throws: PostgresError.self) {
            try connection.query("SELECT pg_sleep(5)", purpose: "sleep")
        }
        #expect(Date().timeIntervalSince(started) < 4)
        #expect(error.sqlState == "57014" && error.kind == .busy)
        // The connection stays usable.
        #expect(try connection.query("SELECT 1", purpose: "test").int(0, 0) == 1)
    }

    @Test func twoSessionsLeasingTheSameDueRowsAtOnceNeverBothTakeOne() async throws {
        let (store, _) = try newStore()
        let old = Date().addingTimeInterval(-10 * 86_400)
        try store.insertBatch(
            (0..<40).map { index in
                StoredToken(
                    key: TokenKey(tenant: "a", user: "u\(index)", provider: "p"), secretName: "a", keyVersion: 1,
                    sealedToken: [1],
                    issuedAt: old)
            })
        // Both hosts saw the same due rows; each now tries to lease every one (one from each end).
        let now = Date()
        let due = try store.rowsDueForRefresh(
            provider: "p", refreshedBefore: now.addingTimeInterval(-86_400), expiringBefore: nil,
            now: now, afterID: 0, limit: 100
        ).map(\.key)
        #expect(due.count == 40)
        let sessions = TokenStoreSessions(store)
        let workers = (0..<2).map { worker in
            Task.detached { () throws -> [TokenKey] in
                let session = try sessions.open()
                var claimed: [TokenKey] = []
                for key in worker == 0 ? due : due.reversed()
                where try session.acquireLease(
                    key, owner: "worker-\(worker)", until: now.addingTimeInterval(60), now: now)
                {
                    claimed.append(key)
                }
                return claimed
            }
        }
        var claims: [TokenKey] = []
        for worker in workers { claims += try await worker.value }
        #expect(claims.count == 40)
        #expect(Set(claims).count == 40)
        // And no row is due while leased.
        #expect(
            try store.countDueForRefresh(
                provider: "p", refreshedBefore: now.addingTimeInterval(-86_400), expiringBefore: nil,
                now: now) == 0)
    }
}

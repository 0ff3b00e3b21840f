import Foundation
import Testing

@testable import Store

/// One ``TokenStore`` backend as ``StoreConformanceTests`` sees it: how to make a new, empty store and
/// how to open it again read-only. Every conformance test runs once per entry of ``all``; a new backend
/// (PostgreSQL) joins by adding a case there, and must then pass the whole suite unchanged.
///
/// Each test hands the backend a fresh private temporary folder, removed afterwards. A file backend keeps
/// its state in it; a server backend uses it only to name a fresh, empty store of its own (a schema or
/// a database), so no two tests share state.
struct StoreBackend: Sendable, CustomTestStringConvertible {
    /// The backend's name in test results.
    let name: String
    private let makeStore: @Sendable (_ folder: String) throws -> any TokenStore
    private let openReadOnlyStore: @Sendable (_ folder: String) throws -> any TokenStore
    private let storedBytes: @Sendable (_ folder: String) throws -> [String: Data]?

    /// A new, empty, read-write store whose state belongs to `folder`.
    func make(folder: String) throws -> any TokenStore { try makeStore(folder) }

    /// A read-only session on the store ``make(folder:)`` made for `folder` (the dry run's open).
    func openReadOnly(folder: String) throws -> any TokenStore { try openReadOnlyStore(folder) }

    /// The store's bytes at rest (relative path to contents), for a backend that keeps them in `folder`;
    /// nil for one that has no files to compare (a server), where the suite compares the state it reads.
    func bytesAtRest(folder: String) throws -> [String: Data]? { try storedBytes(folder) }

    var testDescription: String { name }

    /// Every backend the conformance suite runs against.
    static let all: [StoreBackend] = [.sqlite, .postgres]

    /// ``SQLiteTokenStore``: one file, `tokens.db`, in the folder.
    static let sqlite = StoreBackend(
        name: "sqlite",
        makeStore: { folder in try SQLiteTokenStore.create(at: folder + "/tokens.db") },
        openReadOnlyStore: { folder in try SQLiteTokenStore(path: folder + "/tokens.db", readOnly: true) },
        storedBytes: { folder in try filesAtRest(under: folder) })

    /// ``PostgresTokenStore`` on the test process's PostgreSQL server (``PostgresTestServer``): a new
    /// database per store, its name kept in the folder. The suite moves time by hand, so the store judges
    /// leases and "due" by the caller's `now:` (``PostgresTokenStore/Clock/caller``); the database clock
    /// production uses is tested beside the store (Tests/TokenKeeperTests/Store). When the server cannot
    /// start, every test of this backend fails with the reason.
    static let postgres = StoreBackend(
        name: "postgres",
        makeStore: { folder in
            let server = try PostgresTestServer.shared()
            let database = try server.createDatabase()
            try database.write(toFile: folder + "/postgres-database", atomically: true, encoding: .utf8)
            return try PostgresTokenStore(
                connectionString: server.connectionString(database: database), location: "postgres:test/\(database)",
                readOnly: false, clock: .caller, creating: true)
        },
        openReadOnlyStore: { folder in
            let server = try PostgresTestServer.shared()
            let database = try String(contentsOfFile: folder + "/postgres-database", encoding: .utf8)
            return try PostgresTokenStore(
                connectionString: server.connectionString(database: database), location: "postgres:test/\(database)",
                readOnly: true, clock: .caller, creating: false)
        },
        storedBytes: { _ in nil })
}

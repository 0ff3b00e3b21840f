import Foundation
import Testing
import Vault

@testable import PostgresClient

/// One ``KeyVault`` backend as ``VaultConformanceTests`` sees it: how to make a new vault and how to open
/// it again, with another master key, as another principal or read-only. Every conformance test runs
/// once per entry of ``all``; a new backend (PostgreSQL) joins by adding a case there, and must then pass
/// the whole suite unchanged.
///
/// Each test hands the backend a fresh private temporary folder, removed afterwards. A file backend keeps
/// the vault in it; a server backend uses it only to name a fresh, empty vault of its own. The clock is
/// what the backend must use for creation, deletion and purge dates, so tests can cross a retention
/// period without waiting.
struct VaultBackend: Sendable, CustomTestStringConvertible {
    typealias Clock = @Sendable () -> Date

    /// The backend's name in test results.
    let name: String
    private let create:
        @Sendable (
            _ folder: String, _ masterKey: MasterKey, _ principal: String,
            _ clock: @escaping Clock
        ) throws -> any KeyVault
    private let open:
        @Sendable (
            _ folder: String, _ masterKey: MasterKey, _ principal: String, _ readOnly: Bool,
            _ clock: @escaping Clock
        ) throws -> any KeyVault
    private let storedBytes: @Sendable (_ folder: String) throws -> [String: Data]?

    /// The store every vault ``make(folder:masterKey:principal:clock:)`` makes serves (I1: a version is
    /// purged only for the store the vault serves).
    static let servedStore = "0123456789abcdef0123456789abcdef"

    /// A new vault whose state belongs to `folder`, under `masterKey`, where `principal` holds every
    /// permission, serving ``servedStore``.
    func make(folder: String, masterKey: MasterKey, principal: String, clock: @escaping Clock = { Date() }) throws
        -> any KeyVault
    {
        let vault = try makeUnbound(folder: folder, masterKey: masterKey, principal: principal, clock: clock)
        try vault.bindStore(Self.servedStore, heldTokens: false, replacing: nil)
        return vault
    }

    /// A new vault that serves no store yet.
    func makeUnbound(folder: String, masterKey: MasterKey, principal: String, clock: @escaping Clock = { Date() })
        throws -> any KeyVault
    {
        try create(folder, masterKey, principal, clock)
    }

    /// The vault ``make(folder:masterKey:principal:clock:)`` made for `folder`, opened again with `masterKey`
    /// (not necessarily the right one) as `principal`.
    func reopen(
        folder: String, masterKey: MasterKey, principal: String, readOnly: Bool = false,
        clock: @escaping Clock = { Date() }
    ) throws -> any KeyVault {
        try open(folder, masterKey, principal, readOnly, clock)
    }

    /// The vault's bytes at rest (relative path to contents), for a backend that keeps them in `folder`;
    /// nil for one that has no files to compare (a server), where the suite compares the state it reads.
    func bytesAtRest(folder: String) throws -> [String: Data]? { try storedBytes(folder) }

    var testDescription: String { name }

    /// Every backend the conformance suite runs against.
    static let all: [VaultBackend] = [.file, .postgres]

    /// ``FileVault``: the folder `vault` in the test's folder.
    static let file = VaultBackend(
        name: "file",
        create: { folder, masterKey, principal, clock in
            try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: principal, clock: clock)
        },
        open: { folder, masterKey, principal, readOnly, clock in
            try FileVault.open(
                at: folder + "/vault", masterKey: masterKey, principal: principal, readOnly: readOnly, clock: clock)
        },
        storedBytes: { folder in try filesAtRest(under: folder + "/vault") })

    /// ``PostgresVault`` on the test process's PostgreSQL server (``PostgresTestServer``): a new database per
    /// vault, its name kept in the folder. Its "bytes at rest" are a dump of every vault table, row by row,
    /// read by the server's superuser. When the server cannot start, every test of this backend fails with
    /// the reason.
    static let postgres = VaultBackend(
        name: "postgres",
        create: { folder, masterKey, principal, clock in
            let server = try PostgresTestServer.shared()
            let database = try server.createDatabase()
            try database.write(toFile: folder + "/postgres-vault-database", atomically: true, encoding: .utf8)
            return try PostgresVault.initialize(
                connectionString: server.connectionString(database: database), location: "postgres:test/\(database)",
                masterKey: masterKey, principal: principal, clock: clock)
        },
        open: { folder, masterKey, principal, readOnly, clock in
            let server = try PostgresTestServer.shared()
            let database = try String(contentsOfFile: folder + "/postgres-vault-database", encoding: .utf8)
            return try PostgresVault.open(
                connectionString: server.connectionString(database: database), location: "postgres:test/\(database)",
                masterKey: masterKey, principal: principal, readOnly: readOnly, clock: clock)
        },
        storedBytes: { folder in
            let server = try PostgresTestServer.shared()
            let database = try String(contentsOfFile: folder + "/postgres-vault-database", encoding: .utf8)
            return try postgresVaultDump(server.connectionString(database: database))
        })

    /// Every row of every vault table as text, by table: two equal dumps mean nothing was written.
    static func postgresVaultDump(_ connectionString: String) throws -> [String: Data] {
        let connection = try PostgresConnection(
            connectionString: connectionString, location: "test dump", readOnly: true)
        var dump: [String: Data] = [:]
        for table in [
            "vault_migrations", "vault_meta", "vault_secrets", "vault_versions", "vault_policies", "vault_audit",
            "vault_state_mark",
        ] {
            let rows = try connection.query(
                "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \(table) t", purpose: "dump")
            dump[table] = Data(rows.text(0, 0).utf8)
        }
        return dump
    }
}

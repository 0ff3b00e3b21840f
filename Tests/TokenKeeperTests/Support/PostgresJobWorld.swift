import Foundation

@testable import Custody
@testable import PostgresClient
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// A job's world with the tokens on PostgreSQL, as users first set it up: the vault in a folder (made by
/// `vault init`, dated `keyAge` ago so a rotation is due), the store in a fresh database of the test server
/// (made by `state init --store postgres:env:TOKENKEEPER_STORE_URL`), the project's identity provider, and
/// the environment a pipeline gives the commands (the connection string only in TOKENKEEPER_STORE_URL).
struct PostgresJobWorld: Sendable {
    let folder: String
    let connectionString: String
    let idp: TestIdentityProvider
    let masterKey: MasterKey
    /// When the vault (and so every tenant's first key version) was created.
    let origin: Date
    let environment: [String: String]

    /// The spec's header: the vault folder and the store on PostgreSQL.
    static let header = """
        version: 1
        name: pg-job
        principal: pipeline
        vault:
          path: ./state/vault
          master_key: env:TOKENKEEPER_MASTER_KEY
        store:
          postgres: env:TOKENKEEPER_STORE_URL

        """

    /// Makes the world on a thread of its own (starting the provider and `state init` wait for processes).
    /// - Parameter server: the test process's shared server unless given.
    static func make(
        folder: String, keyAge: TimeInterval = 40 * 86_400, server: PostgresTestServer? = nil
    ) async throws -> PostgresJobWorld {
        try await offThePool { try PostgresJobWorld(folder: folder, keyAge: keyAge, server: server) }
    }

    init(folder: String, keyAge: TimeInterval = 40 * 86_400, server: PostgresTestServer? = nil) throws {
        self.folder = folder
        let server = try server ?? PostgresTestServer.shared()
        connectionString = server.connectionString(database: try server.createDatabase())
        idp = try TestIdentityProvider()
        masterKey = try MasterKey.generate()
        let origin = Date().addingTimeInterval(-keyAge)
        self.origin = origin
        try PrivateFiles.createPrivateDirectory(folder + "/state")
        _ = try FileVault.initialize(
            at: folder + "/state/vault", masterKey: masterKey, principal: "pipeline", clock: { origin })
        environment = [
            "TOKENKEEPER_MASTER_KEY": masterKey.base64, "TOKENKEEPER_PRINCIPAL": "pipeline", "CI": "true",
            "TOKENKEEPER_VAULT": "./state/vault", "TOKENKEEPER_STORE": "postgres:env:TOKENKEEPER_STORE_URL",
            "TOKENKEEPER_STORE_URL": connectionString, "IDP_CLIENT_SECRET": idp.clientSecret,
        ]
        let initialized = try runTokenKeeper(
            ["state", "init"], environment: environment, workingDirectory: folder)
        guard initialized.status == 0 else {
            throw GeneralError(item: "state init", problem: initialized.stderr, remedy: "")
        }
    }

    /// Runs the built binary in the world's folder with its environment (plus `extra`), waiting for it on a
    /// thread of its own (``offThePool(_:)``).
    @discardableResult
    func run(_ arguments: [String], stdin: String = "", extra: [String: String] = [:]) async throws -> ProcessResult {
        let environment = environment.merging(extra) { _, new in new }, folder = folder
        return try await offThePool {
            try runTokenKeeper(arguments, environment: environment, stdin: stdin, workingDirectory: folder)
        }
    }

    /// Writes `job.yml`: the header, the provider `local` at the test provider, then `body`.
    @discardableResult
    func writeSpec(_ body: String, name: String = "job.yml") throws -> String {
        let path = folder + "/" + name
        try Data((Self.header + idp.providerYAML() + body).utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A custodian over the vault and the PostgreSQL store, acting at `origin`.
    func custodian() throws -> TokenCustodian {
        let when = origin
        let vault = try FileVault.open(
            at: folder + "/state/vault", masterKey: masterKey, principal: "pipeline", clock: { when })
        let store = try StateBinding.openStore(
            .postgres(connection: .environment("URL"), tls: .verifiedOffHost), vault: vault,
            environment: ["URL": connectionString])
        return TokenCustodian(vault: vault, store: store)
    }

    /// Signs `users` of `tenant` in at the provider and stores their refresh tokens, issued at `origin`
    /// (so a refresh is due); returns them by user.
    @discardableResult
    func signIn(tenant: String, users: [String]) async throws -> [String: String] {
        let tokens =
            try await idp.admin("admin/signin", ["tenant": tenant, "users": users])["refresh_tokens"] as! [String]
        let custodian = try custodian()
        for (user, token) in zip(users, tokens) {
            try custodian.put(
                TokenKey(tenant: tenant, user: user, provider: "local"), token: SecretText(token),
                issuedAt: origin, expiresAt: nil)
        }
        return Dictionary(uniqueKeysWithValues: zip(users, tokens))
    }

    /// A session on the world's database, for reading tables behind the commands' backs.
    func connection() throws -> PostgresConnection {
        try PostgresConnection(connectionString: connectionString, location: "test", readOnly: false)
    }

    /// Every row of every table of the store, as text, in a fixed order: equal dumps mean an unchanged store.
    func tableDump() throws -> String {
        let session = try connection()
        var dump = ""
        for table in ["tokens", "key_version_rows", "store_identity", "schema_migrations"] {
            let rows = try session.query(
                "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM \(table) t",
                purpose: "dump \(table)")
            dump += "## \(table)\n" + rows.text(0, 0) + "\n"
        }
        return dump
    }

    /// Every stored token opened (I1); returns how many rows hold one and the refresh tokens by user.
    func openEveryToken() throws -> (count: Int, tokens: [TokenKey: String]) {
        let custodian = try custodian()
        var rows: [StoredToken] = []
        try custodian.store.forEach {
            rows.append($0)
            return true
        }
        var tokens: [TokenKey: String] = [:]
        for row in rows where row.sealedToken != nil { tokens[row.key] = try custodian.open(row).revealed }
        return (tokens.count, tokens)
    }
}

/// Runs `body` on a thread of its own and awaits it. A child process waited for there does not hold one of
/// the few threads Swift concurrency shares among all the tests running at once (two on a two-core machine),
/// so the other tests' awaits (and their timing) go on meanwhile.
func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

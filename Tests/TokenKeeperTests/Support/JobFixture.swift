import Foundation

@testable import Custody
@testable import Report
@testable import Runner
@testable import Spec
@testable import Store
@testable import Support
@testable import Vault

/// A job's world in a temporary folder: a vault created `keyAge` ago by principal `pipeline`, a
/// store, a master key in the environment, and spec files written on demand.
struct JobFixture {
    let folder: String
    let masterKey: MasterKey
    /// When the vault (and so every tenant's first key version) was created.
    let origin: Date
    var vaultPath: String { folder + "/state/vault" }
    var storePath: String { folder + "/state/tokens.db" }
    var environment: [String: String] { ["TOKENKEEPER_MASTER_KEY": masterKey.base64] }

    /// Creates the vault, dated `keyAge` seconds in the past so the first rotation is due, and the store it
    /// serves (as `tokenkeeper state init` does).
    init(folder: String, keyAge: TimeInterval = 40 * 86_400) throws {
        self.folder = folder
        masterKey = try MasterKey.generate()
        let origin = Date().addingTimeInterval(-keyAge)
        self.origin = origin
        try PrivateFiles.createPrivateDirectory(folder + "/state")
        let vault = try FileVault.initialize(
            at: folder + "/state/vault", masterKey: masterKey, principal: "pipeline", clock: { origin })
        _ = try StateBinding.openStore(at: folder + "/state/tokens.db", vault: vault, source: .create(replacing: false))
    }

    /// A custodian over the vault and store, acting at `origin` (so new secrets are as old as the vault).
    func custodian(as principal: String = "pipeline", at date: Date? = nil) throws -> TokenCustodian {
        let when = date ?? origin
        return TokenCustodian(
            vault: try FileVault.open(at: vaultPath, masterKey: masterKey, principal: principal, clock: { when }),
            store: try SQLiteTokenStore(path: storePath))
    }

    /// Stores `count` tokens per tenant, user names `u0`, `u1`, ...; the token of a row is `token(for:)`.
    func seed(tenants: [String], usersPerTenant count: Int, provider: String = "entra") throws {
        let custodian = try custodian()
        for tenant in tenants {
            for index in 0..<count {
                let key = TokenKey(tenant: tenant, user: "u\(index)", provider: provider)
                try custodian.put(key, token: Self.token(for: key), issuedAt: origin, expiresAt: nil)
            }
        }
    }

    /// Stores `count` tokens per tenant as a tokenkeeper before envelope encryption did: each sealed directly
    /// under the tenant's newest key version (the old format), for tests of the migration.
    func seedInOldFormat(tenants: [String], usersPerTenant count: Int, provider: String = "entra") throws {
        let custodian = try custodian()
        try custodian.recordThatTheStoreHoldsTokens()
        var rows: [StoredToken] = []
        for tenant in tenants {
            for index in 0..<count {
                let key = TokenKey(tenant: tenant, user: "u\(index)", provider: provider)
                let (version, sealed) = try custodian.sealInOldFormat(Self.token(for: key), for: key, secret: tenant)
                rows.append(
                    StoredToken(
                        key: key, secretName: tenant, keyVersion: version, sealedToken: sealed, issuedAt: origin))
            }
        }
        try custodian.store.insertBatch(rows)
    }

    /// Takes the store back to schema 4 (before envelope encryption), as an older tokenkeeper left it.
    /// Every row must be in the old format.
    func downgradeStoreToSchema4() throws {
        let store = try SQLiteTokenStore(path: storePath)
        try store.connection.execute("DROP TABLE token_keys; DROP INDEX tokens_old_format; PRAGMA user_version = 4")
    }

    /// Rows holding a token in the old format and in the envelope format.
    func formatCounts() throws -> (old: Int, envelope: Int) {
        var counts = (old: 0, envelope: 0)
        try SQLiteTokenStore(path: storePath, readOnly: true).forEach { row in
            if row.sealedToken != nil {
                if row.wrappedKey == nil { counts.old += 1 } else { counts.envelope += 1 }
            }
            return true
        }
        return counts
    }

    /// The refresh token the fixture stores for `key`.
    static func token(for key: TokenKey) -> SecretText {
        SecretText("rt.\(key.tenant).\(key.user).\(key.provider).secret-value")
    }

    /// Writes `text` as a spec file and loads it.
    @discardableResult
    func spec(_ text: String, name: String = "job.yml") throws -> JobSpec {
        let path = folder + "/" + name
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return try JobSpec.load(path: path)
    }

    /// The standard header of a spec over this fixture's vault and store.
    static let header = """
        version: 1
        name: test-job
        principal: pipeline
        vault:
          path: ./state/vault
          master_key: env:TOKENKEEPER_MASTER_KEY
        store:
          sqlite: ./state/tokens.db

        """

    /// Runs `spec` as of `date` (default now).
    @discardableResult
    func run(
        _ spec: JobSpec, dryRun: Bool = false, stage: String? = nil, at date: Date = Date(),
        reportDirectory: String? = nil
    ) async throws -> RunReport {
        var options = RunOptions(defaultPrincipal: "nobody", environment: environment)
        options.dryRun = dryRun
        options.stage = stage
        options.reportDirectory = reportDirectory
        options.lockTimeout = 5
        options.clock = { date }
        return try await JobRunner(spec: spec, options: options).run()
    }

    /// Every stored token opened and checked against ``token(for:)``; returns the count of rows that
    /// hold a token. Throws on the first row that does not open or holds the wrong token (I1).
    func verifyEveryToken() throws -> Int {
        let custodian = try custodian()
        var rows: [StoredToken] = []
        try custodian.store.forEach {
            rows.append($0); return true
        }
        var opened = 0
        for row in rows where row.sealedToken != nil {
            let token = try custodian.open(row)
            guard token.revealed == Self.token(for: row.key).revealed else {
                throw GeneralError(item: row.key.description, problem: "holds another token", remedy: "")
            }
            opened += 1
        }
        return opened
    }

    /// Rows per key version of `tenant`.
    func versionCounts(_ tenant: String) throws -> [Int: Int] {
        try SQLiteTokenStore(path: storePath).keyVersionCounts(tenant: tenant)
    }

    /// The version numbers `tenant`'s secret has now.
    func versions(_ tenant: String) throws -> [Int] {
        try FileVault.open(at: vaultPath, masterKey: masterKey, principal: "pipeline").versions(of: tenant).map(
            \.number)
    }

    /// Every file under `state/` with its bytes (vault and store), to prove a dry run changed nothing.
    func stateSnapshot() throws -> [String: Data] {
        try Self.snapshot(of: folder + "/state")
    }

    /// Every file under `root` but lock files, by path relative to it, with its bytes.
    static func snapshot(of root: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: root)
        while let name = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isFolder), !isFolder.boolValue,
                !name.hasSuffix(".lock")
            {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: root + "/" + name))
            }
        }
        return files
    }
}

extension StageReport {
    /// The case named `name`, if any.
    func `case`(_ name: String) -> CaseReport? { cases.first { $0.name == name } }
}

import Foundation

/// A job spec, typed and checked: what one `tokenkeeper run` does.
public struct JobSpec: Sendable {
    /// The spec format version (only 1).
    public var version: Int
    /// The job's name, used in reports.
    public var name: String
    /// The principal the job acts as; nil means `TOKENKEEPER_PRINCIPAL` (or the login user) at run time.
    public var principal: String?
    /// The vault folder (absolute).
    public var vaultPath: String
    /// Where the master key comes from.
    public var masterKey: SecretReference
    /// The SQLite store (absolute).
    public var storePath: String
    /// Identity providers by the name rows use.
    public var providers: [String: ProviderSpec]
    /// The stages, in order.
    public var stages: [StageSpec]
    /// Where reports go.
    public var report: ReportSettings
    /// The spec file (absolute) and its bytes (the runner records their SHA-256).
    public var sourcePath: String
    public var sourceBytes: [UInt8]
}

/// A provider entry of the spec.
public struct ProviderSpec: Sendable, Equatable {
    /// The provider kinds tokenkeeper has profiles for.
    public enum Kind: String, Sendable, CaseIterable {
        case entra, google, facebook, x, oauth2
    }
    /// How the client authenticates at the token endpoint.
    public enum ClientAuth: String, Sendable, CaseIterable {
        case clientSecretPost = "client_secret_post"
        case clientSecretBasic = "client_secret_basic"
    }
    public var name: String
    public var kind: Kind
    public var tokenEndpoint: URL?
    public var revocationEndpoint: URL?
    public var clientID: String?
    public var clientSecret: SecretReference?
    public var clientAuth: ClientAuth
    public var scope: String?
    /// Entra only: the tenant (id, `organizations` or `common`) and the authority base URL.
    public var tenant: String?
    public var authority: URL?
}

/// One stage of the job.
public struct StageSpec: Sendable {
    /// What to do when the stage fails.
    public enum OnFailure: String, Sendable, CaseIterable {
        case stop, `continue`
    }
    /// The stage's options, by kind.
    public enum Options: Sendable {
        case rotate(RotateOptions)
        case revoke(RevokeOptions)
        case refresh(RefreshOptions)
    }
    public var name: String
    public var onFailure: OnFailure
    public var options: Options
    /// Where the stage starts in the spec.
    public var mark: SourceMark

    /// `rotate`, `revoke` or `refresh`.
    public var kind: String {
        switch options {
        case .rotate: "rotate"
        case .revoke: "revoke"
        case .refresh: "refresh"
        }
    }
}

/// Which tenants a stage covers.
public enum TenantSelection: Sendable, Equatable {
    /// Every tenant with a live secret in the vault.
    case all
    /// These tenants.
    case list([String])
    /// The tenants listed in a file, one per line.
    case file(String)
}

/// Options of a rotate stage.
public struct RotateOptions: Sendable {
    public var tenants: TenantSelection
    /// A tenant gets a new key version only when its latest is older than this (seconds).
    public var maxKeyAge: TimeInterval
    /// Versions kept before the latest after the rewrap.
    public var keepVersions: Int
    /// Rows rewrapped per transaction.
    public var batchSize: Int
}

/// Options of a revoke stage.
public struct RevokeOptions: Sendable {
    /// `tenant/user` pairs.
    public var users: [TenantUser]
    /// A file of `tenant user` lines.
    public var usersFile: String?
    public var mode: RevokeMode
    /// Tenants to crypto-shred.
    public var tenants: [String]
    public var purge: Bool
    public var atProvider: Bool
    public var provider: String?
}

/// Options of a refresh stage.
public struct RefreshOptions: Sendable {
    public var provider: String
    public var refreshAfter: TimeInterval
    public var expiringWithin: TimeInterval?
    public var concurrency: Int
    /// Requests per second at most.
    public var maxRate: Double?
    public var retries: Int
    public var requestTimeout: TimeInterval
    public var lease: TimeInterval
}

/// A tenant and a user.
public struct TenantUser: Sendable, Hashable, CustomStringConvertible {
    public var tenant: String
    public var user: String
    public var description: String { "\(tenant)/\(user)" }
}

/// Where reports go; nil paths are not written.
public struct ReportSettings: Sendable {
    /// How much a report lists.
    public enum Detail: String, Sendable, CaseIterable {
        /// One testcase per tenant per stage plus one per failed item; successes counted.
        case summary
        /// Every item listed.
        case items
    }
    public var junit: String?
    public var markdown: String?
    public var json: String?
    public var detail: Detail
}

extension JobSpec {
    /// Reads, parses and checks the spec at `path`. Secrets are not resolved here.
    /// - throws: ``SpecError`` with every problem found, or a file error.
    public static func load(path: String) throws -> JobSpec {
        let absolute = SpecPaths.resolve(path, against: FileManager.default.currentDirectoryPath)
        let bytes = try PrivateFiles.readFile(absolute)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SpecError([SpecDiagnostic(file: path, mark: SourceMark(line: 1, column: 1), message: "the file is not UTF-8",
                                            fix: "save it as UTF-8")])
        }
        return try parse(text: text, fileName: path, sourcePath: absolute, sourceBytes: bytes)
    }

    /// Parses spec text; relative paths resolve against `sourcePath`'s folder.
    public static func parse(text: String, fileName: String, sourcePath: String, sourceBytes: [UInt8]? = nil) throws -> JobSpec {
        let root = try YAMLLiteParser.parse(text, file: fileName)
        var reader = JobSpecReader(file: fileName, baseDirectory: (sourcePath as NSString).deletingLastPathComponent)
        let spec = reader.read(root, sourcePath: sourcePath, sourceBytes: sourceBytes ?? Array(text.utf8))
        if !reader.diagnostics.isEmpty { throw SpecError(reader.diagnostics) }
        return spec!
    }
}

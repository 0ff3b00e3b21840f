import Foundation
import Support

/// A job spec, typed and checked: what one `tokenkeeper run` does.

public struct JobSpec: Sendable {
    /// The spec format version (only 1).
    public var version: Int
    /// The job's name, used in reports.
    public var name: String
    /// The principal the job acts as; nil means `TOKENKEEPER_PRINCIPAL` (or the login user) at run time.
    public var principal: String?
    /// The vault: a folder (absolute) or a PostgreSQL database (`vault.postgres`).
    public var vault: VaultLocation
    /// Where the master key comes from.
    public var masterKey: SecretReference
    /// The store: an SQLite file (absolute) or a PostgreSQL database (`store.postgres`).
    public var store: StoreLocation
    /// Identity providers by the name rows use.
    public var providers: [String: ProviderSpec]
    /// The stages, in order.
    public var stages: [StageSpec]
    /// Where reports go.
    public var report: ReportSettings
    /// The spec file (absolute).
    public var sourcePath: String
    /// The spec's bytes, as read (the runner records their SHA-256 in every report).
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
    /// The name rows use for this provider (the store's provider column).
    public var name: String
    /// Which profile applies (endpoints, refresh behaviour).
    public var kind: Kind
    /// The token endpoint; nil means the kind's documented one (Entra's per tenant, Google's).
    public var tokenEndpoint: URL?
    /// The RFC 7009 revocation endpoint, if the provider has one.
    public var revocationEndpoint: URL?
    /// The OAuth client id.
    public var clientID: String?
    /// Where the client secret comes from (env: or file:), never the secret itself.
    public var clientSecret: SecretReference?
    /// client_secret_post (default) or client_secret_basic.
    public var clientAuth: ClientAuth
    /// The scope asked for on refresh and On-Behalf-Of (for example `offline_access`).
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
    /// The stage's name (reports, `run --stage`).
    public var name: String
    /// Whether later stages run when this one fails.
    public var onFailure: OnFailure
    /// What the stage does, by kind.
    public var options: Options
    /// Where the stage starts in the spec.
    public var mark: SourceMark

    /// What kind of stage it is, from its options.
    public var kind: StageKind {
        switch options {
        case .rotate: .rotate
        case .revoke: .revoke
        case .refresh: .refresh
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
    /// The tenants the stage rotates.
    public var tenants: TenantSelection
    /// A tenant gets a new key version only when its latest is older than this (seconds).
    public var maxKeyAge: TimeInterval
    /// Versions kept before the latest after the rewrap.
    public var keepVersions: Int
    /// Rows rewrapped per transaction.
    public var batchSize: Int
    /// Whether every token is sealed again under a fresh data key (the full rewrite), not only its data
    /// key rewrapped: for incidents where data keys or ciphertexts may have been exposed (`reseal: true`).
    public var reseal: Bool = false
}

/// Options of a revoke stage.
public struct RevokeOptions: Sendable {
    /// `tenant/user` pairs.
    public var users: [TenantUser]
    /// A file of `tenant user` lines.
    public var usersFile: String?
    /// What happens to a revoked user's rows.
    public var mode: RevokeMode
    /// Tenants to crypto-shred.
    public var tenants: [String]
    /// Purge shredded tenants' secrets for good (no recovery window).
    public var purge: Bool
    /// Revoke each refresh token at its provider's RFC 7009 endpoint first.
    public var atProvider: Bool
    /// The provider the stage names, if any (rows name their own).
    public var provider: String?
}

/// Options of a refresh stage.
public struct RefreshOptions: Sendable {
    /// The provider whose rows are refreshed.
    public var provider: String
    /// A token is due when it was refreshed longer ago than this (seconds).
    public var refreshAfter: TimeInterval
    /// ... or when it expires within this (seconds).
    public var expiringWithin: TimeInterval?
    /// Requests in flight at once.
    public var concurrency: Int
    /// Requests per second at most.
    public var maxRate: Double?
    /// Retries of a transient failure.
    public var retries: Int
    /// The time limit of each request (seconds).
    public var requestTimeout: TimeInterval
    /// How long a row stays leased while its request is in flight (seconds).
    public var lease: TimeInterval
}

/// A tenant and a user.
public struct TenantUser: Sendable, Hashable, CustomStringConvertible {
    /// The tenant id.
    public var tenant: String
    /// The user id.
    public var user: String
    /// `tenant/user`.
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
    /// The JUnit XML file.
    public var junit: String?
    /// The Markdown summary.
    public var markdown: String?
    /// The JSON report.
    public var json: String?
    /// Summary (successes counted) or items (every item listed).
    public var detail: Detail
}

extension JobSpec {
    /// Reads, parses and checks the spec at `path`. Secrets are not resolved here.
    /// - throws: ``SpecError`` with every problem found, ``SpecFileError`` for a path that is missing or a
    ///   folder (both exit 2), or a file error.
    public static func load(path: String) throws -> JobSpec {
        let absolute = SpecPaths.resolve(path, against: FileManager.default.currentDirectoryPath)
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: absolute, isDirectory: &isFolder) else {
            throw SpecFileError(path: path, isFolder: false)
        }
        guard !isFolder.boolValue else { throw SpecFileError(path: path, isFolder: true) }
        let bytes = try PrivateFiles.readFile(absolute)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SpecError([
                SpecDiagnostic(
                    file: path, mark: SourceMark(line: 1, column: 1), message: "the file is not UTF-8",
                    fix: "save it as UTF-8")
            ])
        }
        return try parse(text: text, fileName: path, sourcePath: absolute, sourceBytes: bytes)
    }

    /// Parses spec text; relative paths resolve against `sourcePath`'s folder.
    public static func parse(text: String, fileName: String, sourcePath: String, sourceBytes: [UInt8]? = nil) throws
        -> JobSpec
    {
        let root = try YAMLLiteParser.parse(text, file: fileName)
        var reader = JobSpecReader(file: fileName, baseDirectory: PathText.parent(of: sourcePath))
        let spec = reader.read(root, sourcePath: sourcePath, sourceBytes: sourceBytes ?? Array(text.utf8))
        if !reader.diagnostics.isEmpty { throw SpecError(reader.diagnostics) }
        return spec!
    }
}

import Foundation
import Spec
import Support

/// The options every command accepts, merged with the environment and the documented defaults.
///
/// | option | environment | default |
/// |---|---|---|
/// | `--vault PATH` | `TOKENKEEPER_VAULT` | `./state/vault` |
/// | `--store PATH` | `TOKENKEEPER_STORE` | `./state/tokens.db` |
/// | `--master-key-file PATH` | `TOKENKEEPER_MASTER_KEY` (the key itself, base64) | none: one of the two is required |
/// | `--principal NAME` | `TOKENKEEPER_PRINCIPAL` | the OS account of the process (from its user id) |
///
/// `--vault` and `--store` (and their variables) also take `postgres:env:NAME` or `postgres:file:PATH`:
/// the connection string is a secret, so it is named, never given (``StateLocationText``).
///
/// The master key is never taken from an argument: arguments show in process lists. The principal
/// never comes from `USER` or `LOGNAME` and is never made up: with no name and no account name, the
/// commands that need one refuse (``PrincipalUnknownError``).

package struct GlobalOptions: Sendable {
    /// The options every command accepts, for parsing and help.
    package static let specs: [OptionSpec] = [
        .value(
            "vault", "PATH",
            "Vault folder, or postgres:env:NAME / postgres:file:PATH (env TOKENKEEPER_VAULT, default ./state/vault)."),
        .value(
            "store", "PATH",
            "SQLite token store, or postgres:env:NAME / postgres:file:PATH (env TOKENKEEPER_STORE, default ./state/tokens.db)."
        ),
        .value(
            "master-key-file", "PATH",
            "File holding the base64 master key, mode 0600 (else env TOKENKEEPER_MASTER_KEY, base64)."),
        .value(
            "principal", "NAME",
            "Who is acting, checked against the vault's access policies (env TOKENKEEPER_PRINCIPAL, default the OS account of the process)."
        ),
        .flag("help", "Show help for the command."),
    ]

    /// The vault as given: a folder, or `postgres:env:NAME` / `postgres:file:PATH` (see ``vault``).
    package var vaultPath: String
    /// The store as given: an SQLite file, or `postgres:env:NAME` / `postgres:file:PATH` (see ``store``).
    package var storePath: String
    /// Where ``vaultPath`` came from, for messages: `--vault`, `TOKENKEEPER_VAULT` or the default.
    package var vaultSource = "--vault"
    /// Where ``storePath`` came from, for messages.
    package var storeSource = "--store"
    /// A master key file given on the command line, if any.
    package var masterKeyFile: String?
    /// The principal named by `--principal` or `TOKENKEEPER_PRINCIPAL`, if any.
    package var namedPrincipal: String?
    /// The name of the OS account the process runs as, if its user id has one.
    package var accountName: String?
    /// The process environment the options were merged with (for `TOKENKEEPER_MASTER_KEY`).
    package var environment: [String: String]

    /// Merges parsed option values with `environment` and the defaults; `accountName` is the process's
    /// OS account (tests pass their own).
    package init(
        values: [String: [String]], environment: [String: String], accountName: String? = ProcessAccount.name()
    ) {
        func pick(_ option: String, _ variable: String) -> String? {
            if let value = values[option]?.last { return value }
            if let value = environment[variable], !value.isEmpty { return value }
            return nil
        }
        vaultPath = pick("vault", "TOKENKEEPER_VAULT") ?? "./state/vault"
        storePath = pick("store", "TOKENKEEPER_STORE") ?? "./state/tokens.db"
        if values["vault"] == nil, environment["TOKENKEEPER_VAULT"]?.isEmpty == false {
            vaultSource = "TOKENKEEPER_VAULT"
        }
        if values["store"] == nil, environment["TOKENKEEPER_STORE"]?.isEmpty == false {
            storeSource = "TOKENKEEPER_STORE"
        }
        masterKeyFile = values["master-key-file"]?.last
        namedPrincipal = pick("principal", "TOKENKEEPER_PRINCIPAL")
        self.accountName = accountName
        self.environment = environment
    }

    /// The vault `--vault` (or `TOKENKEEPER_VAULT`) names. A command line never relaxes TLS: only a spec can
    /// say `tls: unverified`.
    /// - throws: ``StateLocationError`` (exit 2) for a connection string given in place of a reference.
    package var vault: VaultLocation {
        get throws {
            switch try StateLocationText.parse(vaultPath, option: vaultSource, baseDirectory: Self.workingDirectory) {
            case .path(let path): .folder(path: path)
            case .postgres(let connection): .postgres(connection: connection, tls: .verifiedOffHost)
            }
        }
    }

    /// The store `--store` (or `TOKENKEEPER_STORE`) names.
    /// - throws: ``StateLocationError`` (exit 2) for a connection string given in place of a reference.
    package var store: StoreLocation {
        get throws {
            switch try StateLocationText.parse(storePath, option: storeSource, baseDirectory: Self.workingDirectory) {
            case .path(let path): .sqlite(path: path)
            case .postgres(let connection): .postgres(connection: connection, tls: .verifiedOffHost)
            }
        }
    }

    /// Relative `file:` paths on the command line are taken from the working folder.
    private static var workingDirectory: String { FileManager.default.currentDirectoryPath }

    /// The principal to act as: the one named, else the process's OS account, else nil.
    package var principalIfKnown: String? { namedPrincipal ?? accountName }

    /// The principal to act as, for commands that need one.
    /// - throws: ``PrincipalUnknownError`` when none is named and the process's account has no name.
    package var principal: String {
        get throws {
            guard let principal = principalIfKnown else { throw PrincipalUnknownError() }
            return principal
        }
    }
}

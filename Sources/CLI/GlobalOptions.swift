import Foundation

/// The options every command accepts, merged with the environment and the documented defaults.
///
/// | option | environment | default |
/// |---|---|---|
/// | `--vault PATH` | `TOKENKEEPER_VAULT` | `./state/vault` |
/// | `--store PATH` | `TOKENKEEPER_STORE` | `./state/tokens.db` |
/// | `--master-key-file PATH` | `TOKENKEEPER_MASTER_KEY` (the key itself, base64) | none: one of the two is required |
/// | `--principal NAME` | `TOKENKEEPER_PRINCIPAL` | the login user name |
///
/// The master key is never taken from an argument: arguments show in process lists.
package struct GlobalOptions: Sendable {
    /// The options every command accepts, for parsing and help.
    package static let specs: [OptionSpec] = [
        .value("vault", "PATH", "Vault folder (env TOKENKEEPER_VAULT, default ./state/vault)."),
        .value("store", "PATH", "SQLite token store (env TOKENKEEPER_STORE, default ./state/tokens.db)."),
        .value("master-key-file", "PATH",
               "File holding the base64 master key, mode 0600 (else env TOKENKEEPER_MASTER_KEY, base64)."),
        .value("principal", "NAME", "Who is acting, checked against the vault's access policies (env TOKENKEEPER_PRINCIPAL, default the login user)."),
        .flag("help", "Show help for the command."),
    ]

    /// The vault folder.
    package var vaultPath: String
    /// The SQLite store file.
    package var storePath: String
    /// A master key file given on the command line, if any.
    package var masterKeyFile: String?
    /// The acting principal.
    package var principal: String
    /// The process environment the options were merged with (for `TOKENKEEPER_MASTER_KEY`).
    package var environment: [String: String]

    /// Merges parsed option values with `environment` and the defaults.
    package init(values: [String: [String]], environment: [String: String]) {
        func pick(_ option: String, _ variable: String) -> String? {
            if let value = values[option]?.last { return value }
            if let value = environment[variable], !value.isEmpty { return value }
            return nil
        }
        vaultPath = pick("vault", "TOKENKEEPER_VAULT") ?? "./state/vault"
        storePath = pick("store", "TOKENKEEPER_STORE") ?? "./state/tokens.db"
        masterKeyFile = values["master-key-file"]?.last
        principal = pick("principal", "TOKENKEEPER_PRINCIPAL") ?? environment["USER"] ?? environment["LOGNAME"] ?? "admin"
        self.environment = environment
    }
}

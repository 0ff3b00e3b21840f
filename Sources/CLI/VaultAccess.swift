import Custody
import Foundation
import Spec
import Store
import Support
import Vault

/// Opens the vault and the store a command names, with the master key from where the person put it.
///
/// The master key comes from `--master-key-file` (a 0600 file holding the base64 key) or, failing
/// that, from `TOKENKEEPER_MASTER_KEY` (base64). It is never read from an argument.

package enum VaultAccess {
    /// Loads the master key from the global options.
    /// - throws: ``MasterKeyMissingError`` when neither source is set; the key type's own errors when
    ///   the value is not a base64 32-byte key or the file is readable by others.
    package static func masterKey(_ globals: GlobalOptions) throws -> MasterKey {
        if let file = globals.masterKeyFile { return try MasterKey(fileNamedBy: "--master-key-file", path: file) }
        if let text = globals.environment["TOKENKEEPER_MASTER_KEY"], !text.isEmpty {
            return try MasterKey(base64: text)
        }
        throw MasterKeyMissingError()
    }

    /// Opens the store at `--store` that `vault` serves; it is created only as `source` allows
    /// (``StateBinding``): a missing, empty or different store is an error naming both.
    package static func openStore(
        _ globals: GlobalOptions, vault: any KeyVault, readOnly: Bool = false,
        source: StoreSource = .existing
    ) throws -> any TokenStore {
        try StateBinding.openStore(
            globals.store, vault: vault, readOnly: readOnly, source: source, environment: globals.environment)
    }

    /// Opens vault and store together for token commands.
    package static func openCustodian(_ globals: GlobalOptions, readOnly: Bool = false, source: StoreSource = .existing)
        throws -> TokenCustodian
    {
        let vault = try openVault(globals, readOnly: readOnly)
        return TokenCustodian(
            vault: vault, store: try openStore(globals, vault: vault, readOnly: readOnly, source: source))
    }

    /// Opens the vault at `--vault` as `--principal`.
    package static func openVault(_ globals: GlobalOptions, readOnly: Bool = false) throws -> any KeyVault {
        try VaultOpener.open(
            globals.vault, masterKey: masterKey(globals), principal: globals.principal, readOnly: readOnly,
            environment: globals.environment)
    }
}

/// A command that a vault backend does not offer (every backend tokenkeeper ships has `vault rekey` and
/// `vault audit`; a library caller's own `KeyVault` may not).
package struct UnsupportedVaultCommandError: ActionableError {
    /// The command, `tokenkeeper vault rekey`.
    package let command: String
    /// The vault's location.
    package let location: String

    package var item: String { location }
    package var problem: String { "\(command) is not available for this vault's backend" }
    package var remedy: String { "Use a file vault (a folder) or a PostgreSQL vault (postgres:env:NAME)." }
    package var exitStatus: ExitStatus { .usage }
}

/// No master key was given.
package struct MasterKeyMissingError: ActionableError {
    package var item: String { "master key" }
    package var problem: String { "no master key: neither --master-key-file nor TOKENKEEPER_MASTER_KEY is set" }
    package var remedy: String {
        "Set TOKENKEEPER_MASTER_KEY to the base64 key printed by `tokenkeeper vault init`, or pass --master-key-file FILE."
    }
    package var exitStatus: ExitStatus { .environment }
}

import Support

/// Why a vault operation failed. Never carries a key or token value.

public enum VaultError: ActionableError, Equatable {
    /// The master key is not the one this vault was made with.
    case wrongMasterKey(vault: String)
    /// A vault file is damaged or was changed outside tokenkeeper.
    case corrupt(file: String, detail: String)
    /// The principal lacks the permission an operation needs.
    case permissionDenied(principal: String, permission: VaultPermission, operation: String, secret: String?)
    /// A secret name breaks Key Vault's naming rule.
    case invalidSecretName(String)
    /// No such secret.
    case secretNotFound(String)
    /// The secret exists already.
    case secretExists(String)
    /// The secret is soft-deleted: its tokens are unreadable until it is recovered.
    case secretDeleted(String)
    /// The secret is not soft-deleted, so it cannot be recovered or purged.
    case secretNotDeleted(String)
    /// No such version.
    case versionNotFound(secret: String, version: Int)
    /// The version is disabled (new tokens are never sealed with it).
    case versionDisabled(secret: String, version: Int)
    /// A version that cannot be purged: enabled, or the latest.
    case versionNotPurgeable(secret: String, version: Int, reason: String)
    /// No vault at the path.
    case notAVault(path: String)
    /// The folder is not empty, so `init` will not make a vault there.
    case folderNotEmpty(path: String)
    /// The vault was opened read-only (dry run) and an operation would change it.
    case readOnly(operation: String)
    /// A rekey was interrupted; only `vault rekey` with both keys may open the vault.
    case rekeyInterrupted(vault: String)
    /// A retention period outside 7-90 days.
    case invalidRetention(Int)
    /// The latest version cannot be disabled: new tokens are sealed with it.
    case latestVersion(secret: String, version: Int)
    /// A secret's file is damaged or was changed outside tokenkeeper: that secret's tokens fail, nothing else.
    case corruptSecret(name: String, file: String, detail: String)
    /// The vault serves another store (or none yet) than the one a step is for, so the step (a purge, a
    /// binding) is refused: the store that needs the vault's keys may be missing, not gone.
    case storeNotServed(vault: String, store: String, served: String?)
    /// The database (schema) already holds tables named like a ``PostgresVault``'s, so `init` makes no vault there.
    case tablesExist(location: String, tables: [String])
    /// A ``PostgresVault``'s tables are of another schema version than this build writes (`found`), newer, or
    /// older while the vault is opened read-only (which never migrates).
    case schemaMismatch(location: String, found: Int, known: Int)

    public var item: String {
        switch self {
        case .wrongMasterKey(let vault), .rekeyInterrupted(let vault): vault
        case .corrupt(let file, _), .corruptSecret(_, let file, _): file
        case .storeNotServed(let vault, _, _): vault
        case .tablesExist(let location, _), .schemaMismatch(let location, _, _): location
        case .permissionDenied(let principal, _, _, let secret):
            secret.map { "secret \($0)" } ?? "principal \(principal)"
        case .invalidSecretName(let name), .secretNotFound(let name), .secretExists(let name), .secretDeleted(let name),
            .secretNotDeleted(let name):
            "secret \(name)"
        case .versionNotFound(let secret, let version), .versionDisabled(let secret, let version),
            .versionNotPurgeable(let secret, let version, _), .latestVersion(let secret, let version):
            "secret \(secret) version \(version)"
        case .notAVault(let path), .folderNotEmpty(let path): path
        case .readOnly(let operation): operation
        case .invalidRetention: "retention"
        }
    }

    public var problem: String {
        switch self {
        case .wrongMasterKey: "wrong master key: this key did not create the vault"
        case .corrupt(_, let detail): "is corrupt: \(detail)"
        case .corruptSecret(let name, _, let detail): "secret \(name) is corrupt: \(detail)"
        case .storeNotServed(_, let store, let served):
            "serves \(served.map { "store \($0)" } ?? "no store yet"), not store \(store), so nothing is done for store \(store)"
        case .permissionDenied(let principal, let permission, let operation, _):
            "principal '\(principal)' lacks the '\(permission.rawValue)' permission needed to \(operation)"
        case .invalidSecretName: "is not a valid secret name: it must be \(SecretName.rule)"
        case .secretNotFound: "does not exist"
        case .secretExists: "exists already"
        case .secretDeleted: "is deleted: its tokens cannot be opened"
        case .secretNotDeleted: "is not deleted"
        case .versionNotFound: "does not exist"
        case .versionDisabled: "is disabled"
        case .versionNotPurgeable(_, _, let reason): "cannot be purged: \(reason)"
        case .notAVault(let path):
            path.hasPrefix("postgres:")
                ? "is not a tokenkeeper vault (no vault tables in its schema)"
                : "is not a tokenkeeper vault (no vault.json)"
        case .tablesExist(_, let tables):
            "already holds tables named like the vault's (\(tables.joined(separator: ", "))), so no vault is created there"
        case .schemaMismatch(_, let found, let known):
            found > known
                ? "its vault tables are of schema version \(found), newer than this build knows (\(known))"
                : "its vault tables are of schema version \(found) and need migration \(known), which a read-only open never runs"
        case .folderNotEmpty: "is not empty, so no vault is created there"
        case .readOnly(let operation): "would change the vault, which is open read-only (dry run) (\(operation))"
        case .rekeyInterrupted: "a rekey was interrupted before it finished"
        case .invalidRetention(let days): "soft-delete retention must be 7 to 90 days, got \(days)"
        case .latestVersion: "is the latest version, which new tokens are sealed with"
        }
    }

    public var remedy: String {
        switch self {
        case .wrongMasterKey:
            "Give the master key that `tokenkeeper vault init` printed for this vault (TOKENKEEPER_MASTER_KEY or --master-key-file)."
        case .corrupt, .corruptSecret:
            "Restore the vault (its folder or its database tables) from a backup; do not edit vault files or rows by hand."
        case .storeNotServed:
            "Give the store this vault serves (restore it if it is missing); see `tokenkeeper state init --help`."
        case .permissionDenied(let principal, let permission, _, _):
            "Ask a vault administrator to run `tokenkeeper vault policy set \(principal) --permissions \(permission.rawValue),...`."
        case .invalidSecretName: "Use a tenant id (a GUID) or another name of letters, digits and dashes."
        case .secretNotFound: "Check the name with `tokenkeeper vault secret list` (or `deleted`)."
        case .secretExists: "Add a version with `tokenkeeper vault secret rotate` instead."
        case .secretDeleted(let name):
            "Recover it with `tokenkeeper vault secret recover \(name)` if the deletion was a mistake."
        case .secretNotDeleted: "Delete it first with `tokenkeeper vault secret delete`."
        case .versionNotFound(let secret, _): "List versions with `tokenkeeper vault secret versions \(secret)`."
        case .versionDisabled: "Use the latest enabled version."
        case .versionNotPurgeable: "Disable the version first; the latest version is never purged."
        case .notAVault: "Create one with `tokenkeeper vault init`, or check --vault."
        case .folderNotEmpty: "Choose a new or empty folder."
        case .tablesExist:
            "Give a database or schema of the vault's own (for example options=-csearch_path=vault), or open the vault that is there."
        case .schemaMismatch(_, let found, let known):
            found > known
                ? "Use the tokenkeeper version that wrote the vault, or a newer one."
                : "Open the vault once without --dry-run to migrate it."
        case .readOnly: "Run without --dry-run to make changes."
        case .rekeyInterrupted:
            "Finish it: `tokenkeeper vault rekey --new-master-key-file NEW_KEY_FILE` with the old key as the master key."
        case .invalidRetention: "Give --retention-days between 7 and 90."
        case .latestVersion(let secret, _):
            "Add a newer version first with `tokenkeeper vault secret rotate \(secret)`."
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .wrongMasterKey, .corrupt, .notAVault, .rekeyInterrupted, .storeNotServed, .schemaMismatch: .environment
        case .corruptSecret: .itemsFailed
        case .invalidSecretName, .folderNotEmpty, .tablesExist, .invalidRetention, .readOnly: .usage
        case .permissionDenied, .secretNotFound, .secretExists, .secretDeleted, .secretNotDeleted, .versionNotFound,
            .versionDisabled, .versionNotPurgeable, .latestVersion:
            .itemsFailed
        }
    }
}

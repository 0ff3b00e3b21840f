import Custody
import Identity
import Report
import Spec
import Store
import Support
import Vault

/// Turns any error a stage meets into the ``FailureType`` a report files it under.
///
/// The message is the error's own actionable description (item, problem, remedy), which by contract
/// never holds a secret value.

package enum FailureClassifier {
    /// The failure type, an error code when the error has one, and the message for `error`.
    package static func classify(_ error: any Error) -> (type: FailureType, code: String?, message: String) {
        let message = String(describing: error)
        switch error {
        case let error as VaultError:
            switch error {
            case .permissionDenied: return (.policyDenied, "permission_denied", message)
            case .corrupt, .corruptSecret: return (.corrupt, "vault_corrupt", message)
            case .storeNotServed: return (.environment, "store_not_served", message)
            case .wrongMasterKey: return (.configuration, "wrong_master_key", message)
            case .secretNotFound, .versionNotFound: return (.notFound, nil, message)
            case .secretDeleted: return (.notFound, "secret_deleted", message)
            case .readOnly: return (.unexpected, nil, message)
            default: return (.configuration, nil, message)
            }
        case CustodyError.secretMissing: return (.notFound, "secret_missing", message)
        case is any SealingFailure: return (.crypto, "unreadable", message)
        case is StateBindingError: return (.environment, "store_not_served", message)
        case is StateMarkError: return (.environment, "state_copy_mark", message)
        case let error as OAuthError:
            switch error.kind {
            case .deadToken: return (.reauthRequired, error.reportCode, message)
            case .transient: return (.transient, error.reportCode, message)
            case .configuration: return (.configuration, error.reportCode, message)
            }
        case let error as StoreError:
            switch error {
            case .notFound, .tokenDropped: return (.notFound, nil, message)
            case .schemaTooNew, .needsMigration, .noTemporaryTables, .missing, .empty, .exists, .readOnlyFolder,
                .notReceiving:
                return (.environment, nil, message)
            case .notDurable: return (.transient, "store_busy", message)
            }
        case let error as any DatabaseFailure:
            switch error.kind {
            case .busy: return (.transient, error.reportCode, message)
            case .corrupt: return (.corrupt, error.reportCode, message)
            case .other: return (.environment, error.reportCode, message)
            }
        case is FileSystemError, is InsecurePermissionsError, is ForeignOwnerError, is WritableStateFolderError:
            return (.environment, nil, message)
        case is SpecError, is SecretReferenceError: return (.configuration, nil, message)
        default: return (.unexpected, nil, message)
        }
    }
}

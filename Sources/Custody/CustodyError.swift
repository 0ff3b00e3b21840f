import Store
import Support

/// A stored token that cannot be opened: its row names the item, the reason says why.

public enum CustodyError: ActionableError, SealingFailure {
    /// The sealed token does not open with the key version its row names: the row was changed,
    /// copied from another row (I2), or the data key is wrong.
    case unreadable(TokenKey, secret: String, version: Int)
    /// The token read from standard input is not usable.
    case badTokenInput(String)
    /// A token given to store for a row is not one refresh token (``RefreshTokenSyntax``).
    case badToken(TokenKey, String)
    /// Rows of the tenant hold tokens sealed with a secret the vault does not have (a lost or badly
    /// restored secret file): a new secret would not open them, so none is made.
    case secretMissing(secret: String, tenant: String, tokens: Int)

    public var item: String {
        switch self {
        case .unreadable(let key, _, _): "token \(key)"
        case .badTokenInput: "standard input"
        case .badToken(let key, _): "token \(key)"
        case .secretMissing(let secret, _, _): "secret \(secret)"
        }
    }
    public var problem: String {
        switch self {
        case .unreadable(_, let secret, let version):
            "the sealed token does not open with secret \(secret) version \(version) (tampered, or copied from another row)"
        case .badTokenInput(let reason): reason
        case .badToken(_, let reason): "the refresh token \(reason)"
        case .secretMissing(_, let tenant, let tokens):
            "is not in the vault, but \(tokens) token\(tokens == 1 ? "" : "s") of tenant \(tenant) \(tokens == 1 ? "is" : "are") sealed with it (not_found)"
        }
    }
    public var remedy: String {
        switch self {
        case .unreadable: "Restore the store from a backup, or have the user sign in again and store a new token."
        case .badTokenInput: "Pipe exactly one refresh token, for example `tokenkeeper token put ... < token.txt`."
        case .badToken: "Store the refresh token exactly as the provider returned it."
        case .secretMissing(let secret, let tenant, _):
            "Restore the secret's file (secrets/\(secret).json) from a backup of the vault; if it is lost for good, revoke the tenant's "
                + "tokens first (a revoke stage with `tenants: [\(tenant)]`), then store new ones."
        }
    }
    public var exitStatus: ExitStatus {
        switch self {
        case .unreadable, .secretMissing: .itemsFailed
        case .badTokenInput, .badToken: .usage
        }
    }
}

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

    public var item: String {
        switch self {
        case .unreadable(let key, _, _): "token \(key)"
        case .badTokenInput: "standard input"
        case .badToken(let key, _): "token \(key)"
        }
    }
    public var problem: String {
        switch self {
        case .unreadable(_, let secret, let version):
            "the sealed token does not open with secret \(secret) version \(version) (tampered, or copied from another row)"
        case .badTokenInput(let reason): reason
        case .badToken(_, let reason): "the refresh token \(reason)"
        }
    }
    public var remedy: String {
        switch self {
        case .unreadable: "Restore the store from a backup, or have the user sign in again and store a new token."
        case .badTokenInput: "Pipe exactly one refresh token, for example `tokenkeeper token put ... < token.txt`."
        case .badToken: "Store the refresh token exactly as the provider returned it."
        }
    }
    public var exitStatus: ExitStatus {
        switch self {
        case .unreadable: .itemsFailed
        case .badTokenInput, .badToken: .usage
        }
    }
}

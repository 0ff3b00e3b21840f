import Foundation
import Store
import Support

/// One refresh token found in an import file, ready to be sealed and stored.

package struct ImportRecord: Sendable {
    /// The row it belongs to.
    package var key: TokenKey
    /// The refresh token itself.
    package var refreshToken: SecretText
    /// When the token was issued (the import time when the input does not say).
    package var issuedAt: Date
    /// When the refresh token is expected to expire, when the input says (`refresh_token_expires_in`).
    package var expiresAt: Date?
    /// Where in the input it came from, for example `line 3` or `entry 2`.
    package var location: String
}

/// An entry of an import file that could not be used, with the reason. Never holds a token value.
package struct ImportProblem: Sendable, Equatable {
    /// Where in the input, for example `line 3`.
    package var location: String
    /// Why it was skipped or refused.
    package var reason: String
    /// Whether it is merely skipped (nothing to store) rather than invalid.
    package var isSkip: Bool
}

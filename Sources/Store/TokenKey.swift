import Support

/// The identity of one stored refresh token: one row per (tenant, user, provider).
///
/// `tenant` is also the name of the tenant's vault secret by default (DESIGN.md: `secretId = tid`),
/// `user` is the `oid` (or `sub`), and `provider` is the name the job spec gives the provider.

public struct TokenKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The tenant id (`tid`).
    public var tenant: String
    /// The user id (`oid`, or `sub` where there is no `oid`).
    public var user: String
    /// The provider's name in the job spec, for example `entra` or `local`.
    public var provider: String

    /// Creates a key.
    public init(tenant: String, user: String, provider: String) {
        self.tenant = tenant
        self.user = user
        self.provider = provider
    }

    /// `tenant/user/provider`, the form errors and reports use to name a row. Each part is shown with
    /// its control and format characters escaped (``DisplayText``): a user id comes from an unverified
    /// id_token, and a line break in it must not forge a line of a listing, a log or a report.
    public var description: String {
        "\(DisplayText.escaped(tenant))/\(DisplayText.escaped(user))/\(DisplayText.escaped(provider))"
    }

    public static func < (lhs: TokenKey, rhs: TokenKey) -> Bool {
        (lhs.tenant, lhs.user, lhs.provider) < (rhs.tenant, rhs.user, rhs.provider)
    }
}

import Spec
import Vault

/// What the revoke stage knows of one user before it acts.

package struct UserRowsState: Sendable, Equatable {
    /// The tenant.
    package var tenant: String
    /// The user.
    package var user: String
    /// The user's rows: provider and whether the row still holds a refresh token.
    package var rows: [(provider: String, holdsToken: Bool)]

    package static func == (lhs: UserRowsState, rhs: UserRowsState) -> Bool {
        lhs.tenant == rhs.tenant && lhs.user == rhs.user
            && lhs.rows.map(\.provider) == rhs.rows.map(\.provider)
            && lhs.rows.map(\.holdsToken) == rhs.rows.map(\.holdsToken)
    }

    /// Creates a snapshot.
    package init(tenant: String, user: String, rows: [(provider: String, holdsToken: Bool)]) {
        self.tenant = tenant
        self.user = user
        self.rows = rows
    }
}

/// What the revoke stage knows of one tenant named for crypto-shredding.
package struct TenantSecretState: Sendable, Equatable {
    /// The tenant.
    package var tenant: String
    /// The secret's state.
    package var secret: SecretState
    /// The tenant's rows in the store.
    package var rows: Int

    /// Creates a snapshot.
    package init(tenant: String, secret: SecretState, rows: Int) {
        self.tenant = tenant
        self.secret = secret
        self.rows = rows
    }
}

/// The revoke stage's decision for one user.
package struct UserRevokePlan: Sendable, Equatable {
    /// The tenant.
    package var tenant: String
    /// The user.
    package var user: String
    /// Providers whose rows are deleted or whose tokens are dropped.
    package var providers: [String]
    /// Whether there is nothing left to revoke ("already revoked").
    package var isAlreadyRevoked: Bool { providers.isEmpty }
}

/// The revoke stage's decision for one tenant.
package struct TenantRevokePlan: Sendable, Equatable {
    /// The tenant.
    package var tenant: String
    /// Soft-delete the secret: every token of the tenant becomes unreadable at once (crypto-shredding).
    package var softDeletesSecret: Bool
    /// Rows to delete.
    package var rowsToDelete: Int
    /// Purge the soft-deleted secret for good.
    package var purgesSecret: Bool
    /// Whether there is nothing left to do ("already revoked").
    package var isAlreadyRevoked: Bool { !softDeletesSecret && rowsToDelete == 0 && !purgesSecret }

    /// One line for people.
    package var summary: String {
        if isAlreadyRevoked { return "already revoked" }
        var parts: [String] = []
        if softDeletesSecret { parts.append("soft-delete the tenant's secret (every token unreadable at once)") }
        if rowsToDelete > 0 { parts.append("delete \(rowsToDelete) row\(rowsToDelete == 1 ? "" : "s")") }
        if purgesSecret { parts.append("purge the secret for good") }
        return parts.joined(separator: ", ")
    }
}

/// The pure planner of the revoke stage.
package enum RevokePlanner {
    /// Plans one user: which rows still need deleting or dropping under `mode`.
    package static func plan(_ state: UserRowsState, mode: RevokeMode) -> UserRevokePlan {
        let providers: [String] =
            switch mode {
            case .deleteRecord: state.rows.map(\.provider)
            case .dropRefreshToken: state.rows.filter(\.holdsToken).map(\.provider)
            }
        return UserRevokePlan(tenant: state.tenant, user: state.user, providers: providers.sorted())
    }

    /// Plans one tenant: soft-delete its secret, delete its rows, and purge when asked.
    package static func plan(_ state: TenantSecretState, purge: Bool) -> TenantRevokePlan {
        TenantRevokePlan(
            tenant: state.tenant, softDeletesSecret: state.secret == .active, rowsToDelete: state.rows,
            purgesSecret: purge && state.secret != .absent)
    }
}

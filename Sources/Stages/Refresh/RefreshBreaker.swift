import Identity

/// Decides what a provider's refusal (``OAuthFailureKind/configuration``) stops in the refresh stage:
/// the stage, one tenant, or only the token whose request it answered.
///
/// A refusal that is the same for every request (``OAuthFailureScope/client``: bad client credentials
/// at a tenant-independent endpoint) stops the stage at once instead of failing every token. One that
/// belongs to a tenant (the app removed from the customer's tenant) fails that tenant, and the other
/// tenants go on. Any refusal that has come back the same from ``tenantsBeforeStop`` tenants while no
/// token of the stage was refreshed is taken to be the same everywhere (an unknown client is unknown in
/// every tenant), and stops the stage too.

struct RefreshBreaker {
    /// How many tenants must give the same refusal, with nothing refreshed, before the stage stops.
    static let tenantsBeforeStop = 3

    /// What a refusal stops.
    enum Decision: Equatable {
        /// The stage: every request would fail the same way. `reason` says why that is known.
        case stopStage(reason: String)
        /// The tenant's other tokens are not tried.
        case failTenant
        /// Only this token.
        case failToken
    }

    private var tenantsBySignature: [String: Set<String>] = [:]
    private var anyRefreshed = false

    /// Records a refreshed token: the client works somewhere, so refusals are not everyone's.
    mutating func refreshed() { anyRefreshed = true }

    /// Records `error`, a refusal of a request for `tenant`, and says what it stops.
    mutating func decide(_ error: OAuthError, tenant: String) -> Decision {
        if error.scope == .client {
            return .stopStage(
                reason: "this refusal is the same for every request (the client's own credentials or grant)")
        }
        let signature = "\(error.status) \(error.error) \(error.providerCode ?? "")"
        tenantsBySignature[signature, default: []].insert(tenant)
        let tenants = tenantsBySignature[signature]!.count
        if !anyRefreshed, tenants >= Self.tenantsBeforeStop {
            return .stopStage(
                reason: "the same refusal came for every tenant tried (\(tenants)) and no token was refreshed, "
                    + "so it is taken to be the same for every tenant")
        }
        return error.scope == .tenant ? .failTenant : .failToken
    }
}

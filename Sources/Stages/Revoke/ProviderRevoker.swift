import Custody
import Foundation
import Identity
import Spec
import Store
import Support

/// Revokes stored refresh tokens at their providers' RFC 7009 endpoints for the revoke stage's
/// `at_provider: true`. Rows whose provider has no revocation endpoint (Entra, X, Facebook) are
/// left to the local revocation.

final class ProviderRevoker {
    private let providers: [String: ProviderSpec]
    private let secrets: [String: SecretText]
    private let custodian: TokenCustodian
    private let clients = OAuthClientCache()

    /// Resolves every provider's client secret up front, so a missing one stops the stage before anything is revoked.
    init(providers: [String: ProviderSpec], environment: [String: String], custodian: TokenCustodian) throws {
        self.providers = providers
        self.custodian = custodian
        var secrets: [String: SecretText] = [:]
        for (name, provider) in providers where ProviderProfile(provider).revocationEndpoint != nil {
            if let reference = provider.clientSecret { secrets[name] = try reference.resolve(environment: environment) }
        }
        self.secrets = secrets
    }

    /// Revokes `row`'s refresh token at its provider. Returns false when the provider has no revocation
    /// endpoint (nothing to call).
    /// - throws: ``OAuthError`` when the provider refused or did not answer; vault and crypto errors
    ///   when the token cannot be opened.
    func revoke(_ row: StoredToken) async throws -> Bool {
        guard let provider = providers[row.key.provider] else { return false }
        let profile = ProviderProfile(provider)
        guard profile.revocationEndpoint != nil,
            let settings = profile.clientSettings(
                tenant: row.key.tenant, clientSecret: secrets[row.key.provider], requestTimeout: 30)
        else { return false }
        let token = try custodian.open(row)
        try await clients.client(for: settings).revoke(token)
        return true
    }
}

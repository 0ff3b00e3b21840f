import Foundation

/// OAuth clients per token endpoint (Entra's differ per tenant), shared by the workers.
/// `@unchecked Sendable`: the cache is guarded by its lock; the clients are Sendable.
package final class OAuthClientCache: @unchecked Sendable {
    /// An empty cache; clients are made on first use.
    package init() {}

    private let lock = NSLock()
    private var clients: [URL: OAuthClient] = [:]

    package func client(for settings: OAuthClientSettings) -> OAuthClient {
        lock.lock()
        defer { lock.unlock() }
        if let client = clients[settings.tokenEndpoint] { return client }
        let client = OAuthClient(settings: settings)
        clients[settings.tokenEndpoint] = client
        return client
    }
}

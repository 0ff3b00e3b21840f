import Custody
import Foundation
import Store
import Support
import Vault

/// A small bounded pool of store sessions (connections), each with its own ``TokenCustodian``, shared by
/// the concurrent requests of one ``TokenAccess``: a web host opens at most `size` store connections,
/// however many requests it serves at once.
///
/// Sessions are opened on demand up to `size`; a request that finds them all busy waits up to `wait`
/// seconds for one, then fails with ``AccessError`` (naming the pool size, so the operator can raise it).
/// A session whose call threw is closed, not returned: a connection the server lost (restart, failover,
/// `pg_terminate_backend`) never serves a request again, and the next request opens a new one. The
/// vault is shared by all sessions (vaults are thread-safe), and so is the first custodian's cache of
/// version keys (``VersionKeyCache``), so the vault is asked once per key per process, whichever session
/// asks first; each custodian makes its own sealing contexts from those keys.
/// Thread-safe (hence `@unchecked Sendable`): its state is guarded by a lock, and a custodian is used by
/// one request at a time.
final class StoreSessionPool: @unchecked Sendable {
    /// The most sessions the pool opens.
    let size: Int
    private let wait: TimeInterval
    private let vault: any KeyVault
    private let versionKeys: VersionKeyCache
    private let sessions: TokenStoreSessions
    private let lock = NSLock()
    // Guarded by `lock`.
    private var idle: [TokenCustodian]
    private var opened: Int

    /// A pool over the session `first` (its first member) and further sessions on the same store.
    init(first: TokenCustodian, size: Int, wait: TimeInterval) {
        self.size = max(1, size)
        self.wait = wait
        vault = first.vault
        versionKeys = first.versionKeys
        sessions = TokenStoreSessions(first.store)
        idle = [first]
        opened = 1
    }

    /// Runs `body` with a custodian of its own, waiting for a free session up to the pool's wait.
    /// - throws: `body`'s error (the session is then closed and replaced), the store's error opening a
    ///   session, or ``AccessError`` when every session stayed busy for the whole wait.
    func withCustodian<T>(_ body: (TokenCustodian) async throws -> T) async throws -> T {
        let custodian = try await checkOut()
        let result: T
        do {
            result = try await body(custodian)
        } catch {
            discard()
            throw error
        }
        checkIn(custodian)
        return result
    }

    /// How many sessions are open now (idle or in use).
    var openSessions: Int { lock.withLock { opened } }

    private enum Take {
        case custodian(TokenCustodian)
        case openOne
        case full
    }

    private func checkOut() async throws -> TokenCustodian {
        let deadline = Date().addingTimeInterval(wait)
        while true {
            let take: Take = lock.withLock {
                if let custodian = idle.popLast() { return .custodian(custodian) }
                guard opened < size else { return .full }
                opened += 1
                return .openOne
            }
            switch take {
            case .custodian(let custodian):
                return custodian
            case .openOne:
                do {
                    return TokenCustodian(vault: vault, store: try sessions.open(), versionKeys: versionKeys)
                } catch {
                    discard()
                    throw error
                }
            case .full:
                if Date() >= deadline {
                    throw AccessError(
                        item: "store session pool",
                        problem:
                            "all \(size) store sessions of this process stayed busy for \(Int(wait.rounded())) s",
                        remedy:
                            "Try again in a moment; if it persists, raise the pool size (TokenAccess storeSessions) "
                            + "and PostgreSQL's max_connections with it.")
                }
                // Sessions are held for one short transaction (or one commit): a brief poll is enough.
                try await Task.sleep(for: .milliseconds(2))
            }
        }
    }

    private func checkIn(_ custodian: TokenCustodian) {
        lock.withLock { idle.append(custodian) }
    }

    /// Forgets a session that failed (its connection closes as the custodian goes), freeing its place.
    private func discard() {
        lock.withLock { opened -= 1 }
    }
}

import Crypto
import Foundation

/// The keys of secret versions one process has fetched from its vault, per (secret, version), shared by
/// every ``TokenCustodian`` that is given it: the sessions of one `TokenAccess` pool share one, so the
/// vault is asked (and audits) once per key per process, not once per session.
///
/// A version never changes, so a cached key is never stale. Only version keys are kept here, never an
/// unwrapped per-token data key (DEK). Concurrent callers that miss the same key wait for one fetch
/// instead of each asking the vault; a failed fetch caches nothing, so the next caller asks again.
/// Thread-safe (hence `@unchecked Sendable`): the table is guarded by a lock, and each entry by a lock of
/// its own that is held while its key is fetched, so a slow fetch delays only callers of that key.
package final class VersionKeyCache: @unchecked Sendable {
    private struct ID: Hashable {
        var secret: String
        var version: Int
    }

    /// One key's place: filled once, under its own lock.
    private final class Entry: @unchecked Sendable {
        let lock = NSLock()
        var key: SymmetricKey?
    }

    private let lock = NSLock()
    // Guarded by `lock`.
    private var entries: [ID: Entry] = [:]

    /// An empty cache.
    package init() {}

    /// The key of `version` of `secret`: the cached one, or what `fetch` returns (then cached). Callers of
    /// one key at once share one call of `fetch`.
    /// - throws: what `fetch` throws (nothing is cached then).
    package func key(secret: String, version: Int, fetch: () throws -> SymmetricKey) throws -> SymmetricKey {
        let entry = self.entry(ID(secret: secret, version: version))
        entry.lock.lock()
        defer { entry.lock.unlock() }
        if let key = entry.key { return key }
        let key = try fetch()
        entry.key = key
        return key
    }

    /// Keeps `key` as the key of `version` of `secret` (a key the vault handed out with its version, as
    /// the newest version's is).
    package func insert(_ key: SymmetricKey, secret: String, version: Int) {
        let entry = self.entry(ID(secret: secret, version: version))
        entry.lock.withLock { entry.key = key }
    }

    /// Forgets every key (after a rotation purged versions: their keys leave memory with them).
    package func removeAll() {
        lock.withLock { entries.removeAll() }
    }

    private func entry(_ id: ID) -> Entry {
        lock.withLock {
            if let entry = entries[id] { return entry }
            let entry = Entry()
            entries[id] = entry
            return entry
        }
    }
}

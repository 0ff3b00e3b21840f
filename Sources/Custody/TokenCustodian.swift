import Crypto
import Foundation
import Store
import Support
import Vault

/// Seals refresh tokens into the store and opens them again: the one place where vault keys, store
/// rows and the I2 binding meet.
///
/// A token is sealed under its own random data key (DEK), which is wrapped under the newest enabled
/// version of its tenant's secret (by default the tenant id) (``Envelope``), each with ``TokenBinding``
/// as associated data, so a ciphertext or wrapped key moved to another row fails to open. Rows an older
/// tokenkeeper wrote (sealed directly under a version) are read too until the migration moves them.
/// The secret versions' keys are cached per (secret, version) in a ``VersionKeyCache``, which custodians of
/// one process may share (the pooled sessions of one `TokenAccess` do): versions never change, so a cached
/// key is never stale, and the vault is asked (and audits) once per key per cache. Each custodian keeps its
/// own sealing contexts made from those keys (a context serves one thread). Unwrapped DEKs are never
/// cached: each lives for the one operation that needs it. Not `Sendable`: it owns a store connection;
/// use one custodian per thread.

public final class TokenCustodian {
    /// The vault the data keys come from.
    public let vault: any KeyVault
    /// The store the sealed tokens live in.
    public let store: any TokenStore
    /// The version keys this custodian takes from the vault, perhaps shared with other custodians.
    package let versionKeys: VersionKeyCache
    /// This custodian's sealing contexts, made from ``versionKeys`` (contexts are not thread-safe).
    private var keys: [KeyID: AESGCMContext] = [:]
    private var latest: [String: Int] = [:]
    /// When ``forgetLatestVersions()`` last ran.
    private var latestForgottenAt: Date?
    /// Whether the vault is known to record that its store has held tokens (checked once per custodian).
    private var storeHoldsTokensRecorded = false
    /// The OpenSSL state every seal of this custodian reuses (made on first use).
    private var sealer: DataKeySealer?

    private struct KeyID: Hashable {
        var secret: String
        var version: Int
    }

    /// Whether ``put(_:token:issuedAt:expiresAt:)`` added a row or replaced one.
    public enum PutOutcome: String, Sendable {
        case added, updated
    }

    /// Creates a custodian over an open vault and store, with a key cache of its own.
    public convenience init(vault: any KeyVault, store: any TokenStore) {
        self.init(vault: vault, store: store, versionKeys: VersionKeyCache())
    }

    /// Creates a custodian that shares `versionKeys` with other custodians of the same vault (never of
    /// another vault: the cache is keyed by secret and version alone).
    package init(vault: any KeyVault, store: any TokenStore, versionKeys: VersionKeyCache) {
        self.vault = vault
        self.store = store
        self.versionKeys = versionKeys
    }

    /// Seals `token` under the tenant's newest key and stores it, creating the tenant's secret on first
    /// use (which needs the `set` permission). The row starts over: active, no failures, no lease.
    @discardableResult
    public func put(_ key: TokenKey, token: SecretText, issuedAt: Date, expiresAt: Date?) throws -> PutOutcome {
        if let problem = RefreshTokenSyntax.problem(token.revealed) { throw CustodyError.badToken(key, problem) }
        forgetLatestVersions()
        let secret = Self.secretName(for: key)
        let (version, sealed, wrappedKey) = try seal(token, for: key, secret: secret)
        try recordThatTheStoreHoldsTokens()
        let isNew = try store.put(
            StoredToken(
                key: key, secretName: secret, keyVersion: version, sealedToken: sealed, issuedAt: issuedAt,
                expiresAt: expiresAt, updatedAt: issuedAt, wrappedKey: wrappedKey))
        return isNew ? .added : .updated
    }

    /// Records in the vault, before the first token goes in, that its store holds tokens: from then on a
    /// missing store is one to restore, never to make anew. Once per custodian.
    func recordThatTheStoreHoldsTokens() throws {
        guard !storeHoldsTokensRecorded else { return }
        try vault.bindStore(store.identity.id, heldTokens: true, replacing: nil)
        storeHoldsTokensRecorded = true
    }

    /// Opens the stored refresh token of `key`.
    /// - throws: ``StoreError/notFound(_:)``, ``StoreError/tokenDropped(_:)``, ``CustodyError/unreadable(_:secret:version:)``,
    ///   or the vault's errors (deleted secret, missing permission).
    public func open(_ key: TokenKey) throws -> SecretText {
        guard let row = try store.get(key) else { throw StoreError.notFound(key) }
        return try open(row)
    }

    /// Opens the token of a row already read.
    public func open(_ row: StoredToken) throws -> SecretText {
        guard let sealed = row.sealedToken else { throw StoreError.tokenDropped(row.key) }
        let context = try context(secret: row.secretName, version: row.keyVersion)
        let unreadable = { CustodyError.unreadable(row.key, secret: row.secretName, version: row.keyVersion) }
        var plaintext: [UInt8]
        if let wrappedKey = row.wrappedKey {
            do {
                plaintext = try Envelope.open(
                    sealed, wrappedKey: wrappedKey, for: row.key, secret: row.secretName, version: row.keyVersion,
                    unwrapper: context)
            } catch is CryptoError {
                throw unreadable()
            }
        } else {
            plaintext = try context.openToken(sealed, binding: row, unreadable: unreadable)
        }
        defer { wipe(&plaintext) }
        return SecretText(String(decoding: plaintext, as: UTF8.self))
    }

    /// Seals `token` for `key` under a fresh data key wrapped by the newest enabled version of `secret`,
    /// creating the secret if missing (refused while rows of the tenant still hold tokens naming that
    /// secret: a new version 1 would not open them, so a lost secret file must be restored, not replaced).
    /// - Returns: the version, the sealed token and the wrapped data key, the three a row stores.
    /// - throws: ``CustodyError/secretMissing(secret:tenant:tokens:)``, the vault's errors.
    public func seal(_ token: SecretText, for key: TokenKey, secret: String) throws -> (
        version: Int, sealed: [UInt8], wrappedKey: [UInt8]
    ) {
        let version = try latestVersion(of: secret, tenant: key.tenant)
        var plaintext = Array(token.revealed.utf8)
        defer { wipe(&plaintext) }
        let wrapper = try context(secret: secret, version: version)
        let (sealed, wrappedKey) = try plaintext.withUnsafeBytes { text in
            try Envelope.seal(
                text, for: key, secret: secret, version: version, wrapper: wrapper, sealer: dataKeySealer())
        }
        return (version, sealed, wrappedKey)
    }

    /// The custodian's ``DataKeySealer``, made on first use.
    private func dataKeySealer() throws -> DataKeySealer {
        if let sealer { return sealer }
        let made = try DataKeySealer()
        sealer = made
        return made
    }

    /// Seals `token` as tokenkeeper did before envelope encryption: directly under the newest version of
    /// `secret`, bound to the row and the version. Only for tests and tools that make stores in the old
    /// format, to show they are read and migrated; tokenkeeper itself never writes it any more.
    package func sealInOldFormat(_ token: SecretText, for key: TokenKey, secret: String) throws -> (
        version: Int, sealed: [UInt8]
    ) {
        let version = try latestVersion(of: secret, tenant: key.tenant)
        var plaintext = Array(token.revealed.utf8)
        defer { wipe(&plaintext) }
        let context = try context(secret: secret, version: version)
        let binding = TokenBinding.associatedData(for: key, secret: secret, keyVersion: version)
        let sealed = try plaintext.withUnsafeBytes { text in
            try binding.withUnsafeBytes { try context.seal(text, associatedData: $0) }
        }
        return (version, sealed)
    }

    /// Forgets which version is the newest of each secret (the keys of each version stay cached: versions
    /// never change). Every write of a new token starts with it, so a long-lived process always seals under
    /// the version that is newest now, never one a rotation has retired since (I1).
    public func forgetLatestVersions() {
        latest.removeAll()
        latestForgottenAt = Date()
    }

    /// ``forgetLatestVersions()`` unless that was done less than `seconds` ago: for a long run of writes
    /// (an import's batches), which would otherwise ask the vault for every tenant's newest version once
    /// per batch.
    public func forgetLatestVersions(ifOlderThan seconds: TimeInterval) {
        if let last = latestForgottenAt, Date().timeIntervalSince(last) < seconds { return }
        forgetLatestVersions()
    }

    /// Forgets cached keys and versions (after a rotation added or purged versions), in the shared
    /// ``versionKeys`` too.
    public func forgetCachedKeys() {
        keys.removeAll()
        versionKeys.removeAll()
        latest.removeAll()
    }

    /// The newest enabled version of `secret`, creating the secret (version 1) when it does not exist and
    /// no row of `tenant` holds a token naming it.
    func latestVersion(of secret: String, tenant: String) throws -> Int {
        if let version = latest[secret] { return version }
        let version: Int
        let key: SymmetricKey
        do {
            (version, key) = try vault.latestDataKey(secret: secret)
        } catch VaultError.secretNotFound {
            let orphans = try store.tokenCount(tenant: tenant, secret: secret)
            guard orphans == 0 else {
                throw CustodyError.secretMissing(secret: secret, tenant: tenant, tokens: orphans)
            }
            _ = try vault.createSecret(secret)
            (version, key) = try vault.latestDataKey(secret: secret)
        }
        versionKeys.insert(key, secret: secret, version: version)
        keys[KeyID(secret: secret, version: version)] = try AESGCMContext(key: key)
        latest[secret] = version
        return version
    }

    /// A sealing context for one key version, from this custodian's contexts, else made from the shared
    /// cache's key (the vault is asked only when no custodian sharing it has fetched that key).
    func context(secret: String, version: Int) throws -> AESGCMContext {
        let id = KeyID(secret: secret, version: version)
        if let context = keys[id] { return context }
        let key = try versionKeys.key(secret: secret, version: version) {
            try vault.dataKey(secret: secret, version: version)
        }
        let context = try AESGCMContext(key: key)
        keys[id] = context
        return context
    }
}

extension AESGCMContext {
    /// Opens a row's sealed token with the row's binding, turning an authentication failure into `unreadable()`.
    func openToken(_ sealed: [UInt8], binding row: StoredToken, unreadable: () -> any Error) throws -> [UInt8] {
        let binding = TokenBinding.associatedData(for: row.key, secret: row.secretName, keyVersion: row.keyVersion)
        do {
            return try sealed.withUnsafeBytes { box in try binding.withUnsafeBytes { try open(box, associatedData: $0) }
            }
        } catch is CryptoError {
            throw unreadable()
        }
    }
}

import Crypto
import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// The local equivalent of Azure Key Vault: a folder of small files, each written atomically.
///
/// Layout (every folder 0700, every file 0600; anything readable by group or others is refused):
///
/// ```
/// vault/
///   vault.json            format, creation date, soft-delete retention, id of the master key
///   policies.json         principal -> permissions
///   secrets/<name>.json   one secret: versions (number, date, enabled, data key wrapped under the
///                         master key with AES-256-GCM, associated data "tokenkeeper.vault.v1|name|version"),
///                         and the soft-delete block (deleted at, purge on)
///   audit.log             JSON lines: time, principal, operation, secret, version, outcome
///                         (mutations synced at once, reads within a second: see ``AuditLog``)
///   write.lock            flock(2) target that serializes writers across processes
///   rekey.json            present only while a rekey is under way
/// ```
///
/// Each JSON file ends with a trailer line holding its SHA-256, an HMAC-SHA256 under a key derived
/// from the master key, and the master key's id (``VaultFileCodec``), so a flipped byte, a file
/// changed without the master key and a wrong master key are each named for what they are.
///
/// Thread safety: calls may come from several threads (a web service opening tokens); writes are
/// serialized by a lock in the process and by `flock` on `write.lock` across processes. Reads see
/// whole files only, because every write is a rename.

public final class FileVault: KeyVault, @unchecked Sendable {
    /// The vault folder.
    public let path: String
    /// The vault folder (``KeyVault/location``).
    public var location: String { path }
    public let principal: String
    /// Whether the vault was opened read-only (dry run): nothing is written, not even the audit log.
    public let isReadOnly: Bool
    /// Days a soft-deleted secret is kept.
    public let retentionDays: Int

    let masterKey: MasterKey
    let keyID: String
    let macKey: SymmetricKey
    let clock: @Sendable () -> Date
    let lockInProcess = NSLock()
    /// The audit log, shared with every other vault object on the same folder in this process.
    let auditLog: AuditLog

    /// The format of the vault folder this build writes.
    static let format = 1

    init(
        path: String, principal: String, readOnly: Bool, masterKey: MasterKey, manifest: VaultManifest,
        clock: @escaping @Sendable () -> Date
    ) throws {
        self.path = path
        self.principal = principal
        self.isReadOnly = readOnly
        self.masterKey = masterKey
        self.keyID = try masterKey.identifier
        self.macKey = try masterKey.fileMACKey
        self.retentionDays = manifest.retentionDays
        self.clock = clock
        self.auditLog = AuditLog.at(path + "/audit.log")
    }

    /// Writes the audit entries of reads still buffered (best effort; see ``flushAuditLog()``).
    deinit {
        try? auditLog.flush()
    }

    /// Writes and syncs the audit entries of reads (key fetches) that are still buffered: they are
    /// otherwise written within a second (``AuditLog/flushDelay``), when the vault object goes away, and
    /// at `exit(3)`. Mutations are always written and synced before they return. A process about to stop
    /// in a way that skips `exit` handlers (for example `_exit` after a signal) should call this first.
    /// - throws: ``FileSystemError`` when the log cannot be written.
    public func flushAuditLog() throws {
        try auditLog.flush()
    }

    // MARK: - Creating and opening

    /// Creates a vault in a new or empty folder; `principal` gets every permission.
    /// - throws: ``VaultError/folderNotEmpty(path:)``, ``VaultError/invalidRetention(_:)``, file errors.
    public static func initialize(
        at path: String, masterKey: MasterKey, principal: String, retentionDays: Int = 90,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> FileVault {
        try checkInitializable(at: path, retentionDays: retentionDays)
        try PrivateFiles.createPrivateDirectory(path)
        try PrivateFiles.createPrivateDirectory(path + "/secrets")
        try PrivateFiles.writeAtomically([], to: path + "/write.lock")
        let manifest = VaultManifest(
            format: format, createdAt: clock(), retentionDays: retentionDays, masterKeyId: try masterKey.identifier)
        let vault = try FileVault(
            path: path, principal: principal, readOnly: false, masterKey: masterKey, manifest: manifest, clock: clock)
        try VaultFileCodec.write(
            PolicyFile(principals: [principal: VaultPermission.allCases]), to: vault.policiesPath,
            macKey: vault.macKey, keyID: vault.keyID)
        try VaultFileCodec.write(manifest, to: vault.manifestPath, macKey: vault.macKey, keyID: vault.keyID)
        try vault.audit("init", secret: nil, version: nil, outcome: "ok")
        return vault
    }

    /// Checks, writing nothing, that a vault can be made at `path`: the retention is 7-90 days, and the
    /// path is free or an empty private folder of this user. `vault init` calls it before it writes
    /// the master key file, so a refused init leaves no key file behind.
    /// - throws: ``VaultError/invalidRetention(_:)``, ``VaultError/folderNotEmpty(path:)``, ``InsecurePermissionsError``,
    ///   ``ForeignOwnerError``, file errors.
    public static func checkInitializable(at path: String, retentionDays: Int = 90) throws {
        guard (7...90).contains(retentionDays) else { throw VaultError.invalidRetention(retentionDays) }
        guard PrivateFiles.exists(path) else { return }
        guard (try? FileManager.default.contentsOfDirectory(atPath: path))?.isEmpty ?? false else {
            throw VaultError.folderNotEmpty(path: path)
        }
        try PrivateFiles.requirePrivate(path, isDirectory: true)
        try StateOwnership.requireOwned(path)
    }

    /// Opens an existing vault as `principal`.
    /// - Parameter readOnly: for dry runs: every call that would write is refused and nothing, not even
    ///   the audit log, is written (I5).
    /// - throws: ``VaultError/wrongMasterKey(vault:)`` for another key, ``VaultError/corrupt(file:detail:)`` for
    ///   a damaged `vault.json` or `policies.json` (a damaged secret file fails only its own secret, later),
    ///   ``InsecurePermissionsError`` for a folder or file readable by group or others, ``ForeignOwnerError``
    ///   for one that belongs to another user.
    public static func open(
        at path: String, masterKey: MasterKey, principal: String, readOnly: Bool = false,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> FileVault {
        try requireVaultFolder(path)
        guard !PrivateFiles.exists(path + "/rekey.json") else { throw VaultError.rekeyInterrupted(vault: path) }
        let manifestPath = path + "/vault.json"
        guard try VaultFileCodec.keyID(of: manifestPath) == masterKey.identifier else {
            throw VaultError.wrongMasterKey(vault: path)
        }
        let manifest = try VaultFileCodec.read(
            VaultManifest.self, from: manifestPath,
            macKeys: [try masterKey.identifier: try masterKey.fileMACKey]
        ).body
        // A vault `state copy` moved elsewhere never opens again: its keys would redeem a stale copy.
        if let mark = manifest.mark, mark.kind == .moved { throw mark.refusal(at: path) }
        let vault = try FileVault(
            path: path, principal: principal, readOnly: readOnly, masterKey: masterKey, manifest: manifest, clock: clock
        )
        // The policies guard every call: a damaged policy file stops every command here, with the same exit code.
        _ = try vault.loadPolicies()
        return vault
    }

    /// Checks that `path` is a vault folder and that it and everything in it is private and belongs to
    /// the user running (a file of another user would be replaced by one it cannot read).
    static func requireVaultFolder(_ path: String) throws {
        guard PrivateFiles.exists(path + "/vault.json") else { throw VaultError.notAVault(path: path) }
        try PrivateFiles.requirePrivate(path, isDirectory: true)
        for folder in [path, path + "/secrets"] where PrivateFiles.exists(folder) {
            try PrivateFiles.requirePrivate(folder, isDirectory: true)
            try StateOwnership.requireOwned(folder)
            for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name != "secrets" {
                do {
                    try PrivateFiles.requirePrivate(folder + "/" + name, isDirectory: false)
                    try StateOwnership.requireOwned(folder + "/" + name)
                } catch let error as FileSystemError where error.code == ENOENT {
                    // Gone since the listing: a writer's temporary file renamed into place (a rotation
                    // adding a version while a web host opens the vault) is no reason to refuse.
                    continue
                }
            }
        }
    }

    // MARK: - Paths

    var manifestPath: String { path + "/vault.json" }
    var policiesPath: String { path + "/policies.json" }
    func secretPath(_ name: String) -> String { path + "/secrets/\(name).json" }

    // MARK: - KeyVault

    public func createSecret(_ name: String) throws -> SecretVersion {
        try SecretName.validate(name)
        return try mutating("create secret", secret: name, permission: .set) {
            if let existing = try? loadSecret(name) {
                throw existing.deleted == nil ? VaultError.secretExists(name) : VaultError.secretDeleted(name)
            }
            let now = clock()
            var file = SecretFile(name: name, createdAt: now, versions: [], deleted: nil)
            let version = try appendVersion(to: &file, now: now)
            try saveSecret(file)
            return version
        }
    }

    public func addVersion(to name: String) throws -> SecretVersion {
        try mutating("add version", secret: name, permission: .set) {
            var file = try loadLiveSecret(name)
            let version = try appendVersion(to: &file, now: clock())
            try saveSecret(file)
            return version
        }
    }

    public func secrets() throws -> [SecretSummary] {
        try reading("list secrets", secret: nil, permission: .list) {
            try allSecretFiles().filter { $0.deleted == nil }.map {
                SecretSummary(
                    name: $0.name, createdAt: $0.createdAt, latestVersion: $0.versions.last?.version ?? 0,
                    versionCount: $0.versions.count)
            }
        }
    }

    public func secretNames() throws -> [String] {
        try reading("list secret names", secret: nil, permission: .list) { try secretFileNames() }
    }

    public func versions(of name: String) throws -> [SecretVersion] {
        try reading("list versions", secret: name, permission: .list) {
            try loadLiveSecret(name).versions.map {
                SecretVersion(number: $0.version, createdAt: $0.createdAt, enabled: $0.enabled)
            }
        }
    }

    public func dataKey(secret: String, version: Int) throws -> SymmetricKey {
        try reading("get key", secret: secret, version: version, permission: .get) {
            let file = try loadLiveSecret(secret)
            guard let entry = file.versions.first(where: { $0.version == version }) else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            return try unwrap(entry, secret: secret)
        }
    }

    public func latestDataKey(secret: String) throws -> (version: Int, key: SymmetricKey) {
        try reading("get latest key", secret: secret, permission: .get) {
            let file = try loadLiveSecret(secret)
            guard let entry = file.versions.last(where: \.enabled) else {
                throw VaultError.versionNotFound(secret: secret, version: file.versions.last?.version ?? 0)
            }
            return (entry.version, try unwrap(entry, secret: secret))
        }
    }

    public func disableVersion(secret: String, version: Int) throws {
        try mutating("disable version", secret: secret, version: version, permission: .set) {
            var file = try loadLiveSecret(secret)
            guard let index = file.versions.firstIndex(where: { $0.version == version }) else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            guard version != file.versions.last?.version else {
                throw VaultError.latestVersion(secret: secret, version: version)
            }
            guard file.versions[index].enabled else { return }
            file.versions[index].enabled = false
            try saveSecret(file)
        }
    }

    public func purgeVersion(secret: String, version: Int, servingStore storeID: String) throws {
        try mutating("purge version", secret: secret, version: version, permission: .purge) {
            try requireServing(storeID)
            var file = try loadLiveSecret(secret)
            guard let index = file.versions.firstIndex(where: { $0.version == version }) else {
                throw VaultError.versionNotFound(secret: secret, version: version)
            }
            guard version != file.versions.last?.version else {
                throw VaultError.versionNotPurgeable(
                    secret: secret, version: version, reason: "it is the latest version")
            }
            guard !file.versions[index].enabled else {
                throw VaultError.versionNotPurgeable(secret: secret, version: version, reason: "it is still enabled")
            }
            file.versions.remove(at: index)
            try saveSecret(file)
        }
    }

    public func deleteSecret(_ name: String) throws {
        try mutating("delete secret", secret: name, permission: .delete) {
            var file = try loadSecret(name)
            guard file.deleted == nil else { throw VaultError.secretDeleted(name) }
            let now = clock()
            file.deleted = SecretFile.Deletion(
                deletedAt: now, scheduledPurgeAt: now.addingTimeInterval(TimeInterval(retentionDays) * 86_400))
            try saveSecret(file)
        }
    }

    public func recoverSecret(_ name: String) throws {
        try mutating("recover secret", secret: name, permission: .recover) {
            var file = try loadSecret(name)
            guard file.deleted != nil else { throw VaultError.secretNotDeleted(name) }
            file.deleted = nil
            try saveSecret(file)
        }
    }

    public func purgeSecret(_ name: String) throws {
        try mutating("purge secret", secret: name, permission: .purge) {
            let file = try loadSecret(name)
            guard file.deleted != nil else { throw VaultError.secretNotDeleted(name) }
            guard unlink(secretPath(name)) == 0 else {
                throw FileSystemError(path: secretPath(name), operation: "unlink", code: errno)
            }
            try PrivateFiles.syncDirectory(path + "/secrets")
        }
    }

    public func deletedSecrets() throws -> [DeletedSecret] {
        try reading("list deleted secrets", secret: nil, permission: .list) {
            try allSecretFiles().compactMap { file in
                file.deleted.map {
                    DeletedSecret(name: file.name, deletedAt: $0.deletedAt, scheduledPurgeAt: $0.scheduledPurgeAt)
                }
            }
        }
    }

    public func setPolicy(for principal: String, permissions: Set<VaultPermission>) throws {
        try mutating("set policy for \(principal)", secret: nil, permissions: Set(VaultPermission.allCases)) {
            var policies = try loadPolicies()
            policies.principals[principal] = permissions.sorted()
            try VaultFileCodec.write(policies, to: policiesPath, macKey: macKey, keyID: keyID)
        }
    }

    public func removePolicy(for principal: String) throws {
        try mutating("remove policy for \(principal)", secret: nil, permissions: Set(VaultPermission.allCases)) {
            var policies = try loadPolicies()
            policies.principals[principal] = nil
            try VaultFileCodec.write(policies, to: policiesPath, macKey: macKey, keyID: keyID)
        }
    }

    public func policies() throws -> [AccessPolicy] {
        try reading("list policies", secret: nil, permission: .list) {
            try loadPolicies().principals.map { AccessPolicy(principal: $0.key, permissions: Set($0.value)) }
                .sorted { $0.principal < $1.principal }
        }
    }

    // MARK: - Beyond the protocol

    /// Where a secret stands, for planning revocations: live, soft-deleted or absent. Needs `list`.
    public func secretState(_ name: String) throws -> SecretState {
        try reading("secret state", secret: name, permission: .list) {
            guard PrivateFiles.exists(secretPath(name)) else { return .absent }
            return try loadSecret(name).deleted == nil ? .active : .softDeleted
        }
    }

    /// Checks that the principal holds `permission` (for commands that read vault files directly, like `vault audit`).
    public func requirePermission(_ permission: VaultPermission, operation: String = "read the audit log") throws {
        try reading(operation, secret: nil, permission: permission) {}
    }

    /// Purges every soft-deleted secret whose purge date has passed. Needs `purge` (and nothing else: it
    /// lists the deleted secrets itself), even when nothing is overdue; refused on a read-only vault. Returns their names.
    public func purgeOverdue() throws -> [String] {
        let operation = "purge overdue secrets"
        guard !isReadOnly else { throw VaultError.readOnly(operation: operation) }
        let overdue = try reading(operation, secret: nil, permission: .purge) {
            let now = clock()
            return try allSecretFiles().filter { file in file.deleted.map { $0.scheduledPurgeAt <= now } ?? false }.map(
                \.name)
        }
        for name in overdue { try purgeSecret(name) }
        return overdue
    }

    /// Where a secret stands (the type is ``SecretState``; this name is kept for callers).
    public typealias SecretState = Vault.SecretState
}

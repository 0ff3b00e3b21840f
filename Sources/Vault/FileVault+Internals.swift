import Crypto
import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// Permission checks, auditing, locking and the secret files behind ``FileVault``'s operations.

extension FileVault {
    /// Runs a read after checking `permission`; audits it unless the vault is read-only.
    func reading<T>(
        _ operation: String, secret: String?, version: Int? = nil, permission: VaultPermission,
        _ body: () throws -> T
    ) throws -> T {
        if let secret { try SecretName.validate(secret) }
        try check([permission], operation: operation, secret: secret, version: version)
        do {
            let result = try body()
            try auditIfWritable(operation, secret: secret, version: version, outcome: "ok", durably: false)
            return result
        } catch {
            try? auditIfWritable(operation, secret: secret, version: version, outcome: "error", durably: false)
            throw error
        }
    }

    /// Runs a change after checking `permission`, holding the write locks, and audits it.
    func mutating<T>(
        _ operation: String, secret: String?, version: Int? = nil, permission: VaultPermission,
        _ body: () throws -> T
    ) throws -> T {
        try mutating(operation, secret: secret, version: version, permissions: [permission], body)
    }

    /// Runs a change that needs every permission in `permissions`.
    /// `ignoringMark`: only for ``setStateMark(_:)``; every other change is refused on a frozen vault.
    func mutating<T>(
        _ operation: String, secret: String?, version: Int? = nil, permissions: Set<VaultPermission>,
        ignoringMark: Bool = false, _ body: () throws -> T
    ) throws -> T {
        if let secret { try SecretName.validate(secret) }
        guard !isReadOnly else { throw VaultError.readOnly(operation: operation) }
        try check(permissions, operation: operation, secret: secret, version: version)
        do {
            let result = try withWriteLock {
                if !ignoringMark { try requireUnmarkedForChange() }
                return try body()
            }
            try audit(operation, secret: secret, version: version, outcome: "ok")
            return result
        } catch {
            try? audit(operation, secret: secret, version: version, outcome: "error")
            throw error
        }
    }

    /// Throws ``VaultError/permissionDenied(principal:permission:operation:secret:)`` for the first missing permission, audited as `denied`.
    private func check(_ permissions: Set<VaultPermission>, operation: String, secret: String?, version: Int?) throws {
        let granted = Set(try loadPolicies().principals[principal] ?? [])
        if let missing = permissions.sorted().first(where: { !granted.contains($0) }) {
            try? auditIfWritable(operation, secret: secret, version: version, outcome: "denied", durably: true)
            throw VaultError.permissionDenied(
                principal: principal, permission: missing, operation: operation, secret: secret)
        }
    }

    /// Audits an operation. Mutations and denied attempts are written `durably` (synced before this
    /// returns); reads are buffered and synced within a second (``AuditLog``).
    func audit(_ operation: String, secret: String?, version: Int?, outcome: String, durably: Bool = true) throws {
        try auditLog.append(
            AuditLog.Entry(
                time: clock(), principal: principal, operation: operation, secret: secret,
                version: version, outcome: outcome), durably: durably)
    }

    private func auditIfWritable(_ operation: String, secret: String?, version: Int?, outcome: String, durably: Bool)
        throws
    {
        guard !isReadOnly else { return }
        try audit(operation, secret: secret, version: version, outcome: outcome, durably: durably)
    }

    /// Serializes writers: an in-process lock, then `flock` on `write.lock` against other processes.
    func withWriteLock<T>(_ body: () throws -> T) throws -> T {
        lockInProcess.lock()
        defer { lockInProcess.unlock() }
        let lockPath = path + "/write.lock"
        let fd = PrivateFiles.openNoFollow(lockPath, flags: O_RDWR)
        guard fd >= 0 else { throw FileSystemError(path: lockPath, operation: "open", code: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw FileSystemError(path: lockPath, operation: "lock", code: errno) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    // MARK: - Files

    func loadPolicies() throws -> PolicyFile {
        try VaultFileCodec.read(PolicyFile.self, from: policiesPath, macKeys: [keyID: macKey]).body
    }

    func loadSecret(_ name: String) throws -> SecretFile {
        let file = secretPath(name)
        guard PrivateFiles.exists(file) else { throw VaultError.secretNotFound(name) }
        let secret: SecretFile
        do {
            secret = try VaultFileCodec.read(SecretFile.self, from: file, macKeys: [keyID: macKey]).body
        } catch VaultError.corrupt(let file, let detail) {
            // A damaged secret file harms its own secret's tokens only: an item failure, in every command.
            throw VaultError.corruptSecret(name: name, file: file, detail: detail)
        }
        guard secret.name == name else {
            throw VaultError.corruptSecret(name: name, file: file, detail: "it holds secret '\(secret.name)'")
        }
        return secret
    }

    func loadLiveSecret(_ name: String) throws -> SecretFile {
        let file = try loadSecret(name)
        guard file.deleted == nil else { throw VaultError.secretDeleted(name) }
        return file
    }

    /// Writes a secret file atomically; `syncingFolder: false` only in a batch that syncs `secrets/` itself.
    func saveSecret(_ file: SecretFile, syncingFolder: Bool = true) throws {
        try VaultFileCodec.write(
            file, to: secretPath(file.name), macKey: macKey, keyID: keyID, syncingFolder: syncingFolder)
    }

    func allSecretFiles() throws -> [SecretFile] {
        try secretFileNames().map(loadSecret)
    }

    /// The names of every secret file, live or soft-deleted, sorted, without reading the files.
    func secretFileNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: path + "/secrets")
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }.map { String($0.dropLast(5)) }.sorted()
    }

    /// Adds a version with a fresh random data key wrapped under the master key.
    func appendVersion(to file: inout SecretFile, now: Date) throws -> SecretVersion {
        let number = (file.versions.map(\.version).max() ?? 0) + 1
        file.versions.append(
            SecretFile.Version(
                version: number, createdAt: now, enabled: true, masterKeyId: keyID,
                wrappedKey: try wrap(try SymmetricKey.random(), secret: file.name, version: number)))
        return SecretVersion(number: number, createdAt: now, enabled: true)
    }

    /// base64 of a data key sealed under the master key, bound to its secret and version.
    func wrap(_ dataKey: SymmetricKey, secret: String, version: Int) throws -> String {
        let wrapped = try dataKey.withUnsafeBytes { bytes in
            var plain = Array(bytes)
            defer { wipe(&plain) }
            return try AESGCM.sealCombined(
                plain, key: masterKey.key, associatedData: Self.wrapBinding(secret: secret, version: version))
        }
        return Data(wrapped).base64EncodedString()
    }

    /// Unwraps a version's data key with the master key.
    func unwrap(_ entry: SecretFile.Version, secret: String) throws -> SymmetricKey {
        guard let wrapped = Data(base64Encoded: entry.wrappedKey).map(Array.init) else {
            throw VaultError.corruptSecret(
                name: secret, file: secretPath(secret), detail: "version \(entry.version)'s wrapped key is not base64")
        }
        do {
            var bytes = try AESGCM.open(
                combined: wrapped, key: masterKey.key,
                associatedData: Self.wrapBinding(secret: secret, version: entry.version))
            defer { wipe(&bytes) }
            return try SymmetricKey(bytes: bytes)
        } catch {
            throw VaultError.corruptSecret(
                name: secret, file: secretPath(secret), detail: "version \(entry.version)'s wrapped key does not open")
        }
    }

    /// The associated data of a wrapped data key: binds it to its secret and version.
    static func wrapBinding(secret: String, version: Int) -> [UInt8] {
        Array("tokenkeeper.vault.v1|\(secret)|\(version)".utf8)
    }
}

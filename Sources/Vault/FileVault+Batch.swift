import Foundation
import Support

/// ``FileVault``'s batched changes: the fixed cost of a change (policy check, write lock, state mark,
/// folder sync, audit sync) paid once for many secrets instead of once per secret.

extension FileVault {
    /// Adds a version with a new random data key to each of `names` (a rotation's due tenants) under one
    /// permission check, one write lock and one state-mark check. Each secret file is still written
    /// atomically (temporary file, fsync, rename); `secrets/` is synced once after the last rename, and the
    /// audit entries (one per secret, as ``addVersion(to:)`` writes) are appended with one write and one
    /// sync before this returns. Needs `set`.
    ///
    /// A crash before the folder sync may lose some of the renames: each such secret keeps its old
    /// content whole (no new version), which the caller has not been told of yet, so a rotation simply
    /// adds the version on its next run. Nothing beyond each file's atomic rename is promised.
    /// - Returns: one result per name, in order: a damaged, deleted or missing secret (or an invalid
    ///   name) fails only its own entry.
    /// - throws: what fails the whole batch: ``VaultError/readOnly(operation:)``,
    ///   ``VaultError/permissionDenied(principal:permission:operation:secret:)``, a vault `state copy`
    ///   froze, a lock or folder-sync ``FileSystemError``, an audit log that cannot be written.
    public func addVersions(to names: [String]) throws -> [Result<SecretVersion, any Error>] {
        try mutatingEach("add version", secrets: names, permission: .set) { name in
            var file = try loadLiveSecret(name)
            let version = try appendVersion(to: &file, now: clock())
            try saveSecret(file, syncingFolder: false)
            return version
        }
    }

    /// Runs `body` for each of `secrets` as one change: the checks and the lock once, a failure of one
    /// secret kept to its own result, `secrets/` synced once, the audit entries written in one durable append.
    func mutatingEach<T>(
        _ operation: String, secrets: [String], permission: VaultPermission, _ body: (String) throws -> T
    ) throws -> [Result<T, any Error>] {
        guard !secrets.isEmpty else { return [] }
        guard !isReadOnly else { throw VaultError.readOnly(operation: operation) }
        // An invalid name fails its own entry before anything else, unaudited, as the single call does.
        var results: [Result<T, any Error>?] = secrets.map { name in
            do {
                try SecretName.validate(name)
                return nil
            } catch {
                return .failure(error)
            }
        }
        let valid = secrets.indices.filter { results[$0] == nil }
        guard !valid.isEmpty else { return results.map { $0! } }
        let granted = Set(try loadPolicies().principals[principal] ?? [])
        guard granted.contains(permission) else {
            try? auditEach(operation, valid.map { (secrets[$0], "denied") })
            throw VaultError.permissionDenied(
                principal: principal, permission: permission, operation: operation,
                secret: valid.count == 1 ? secrets[valid[0]] : nil)
        }
        do {
            try withWriteLock {
                try requireUnmarkedForChange()
                for index in valid {
                    do {
                        results[index] = .success(try body(secrets[index]))
                    } catch {
                        results[index] = .failure(error)
                    }
                }
                if results.contains(where: { if case .success = $0 { true } else { false } }) {
                    try PrivateFiles.syncDirectory(path + "/secrets")
                }
            }
        } catch {
            try? auditEach(operation, valid.map { (secrets[$0], "error") })
            throw error
        }
        try auditEach(
            operation,
            valid.map { index in
                if case .success = results[index] { (secrets[index], "ok") } else { (secrets[index], "error") }
            })
        return results.map { $0! }
    }

    /// Appends one durable audit entry per (secret, outcome), with one write and one sync.
    private func auditEach(_ operation: String, _ outcomes: [(secret: String, outcome: String)]) throws {
        let now = clock()
        try auditLog.appendDurably(
            outcomes.map {
                AuditLog.Entry(
                    time: now, principal: principal, operation: operation, secret: $0.secret, version: nil,
                    outcome: $0.outcome)
            })
    }
}

import Foundation
import Spec
import Support
import Vault

/// Turns a ``VaultLocation`` into a vault: the one place that names a concrete vault backend (beside
/// ``JobState`` and ``StateBinding``), for the runner, token use and every command alike. Callers hold
/// the result as `any KeyVault`.
///
/// A PostgreSQL vault's connection string is read here, from its `env:` or `file:` reference (a file
/// must be private, mode 0600), at the moment the vault is opened, and goes nowhere but to the backend.
public enum VaultOpener {
    /// Opens the existing vault at `location` as `principal`.
    /// - Parameters:
    ///   - readOnly: for dry runs and `status`: nothing is written, not even the audit log (I5).
    ///   - environment: where an `env:` connection string reference is read.
    /// - throws: the backend's errors (missing, insecure, corrupt, wrong master key), ``SecretReferenceError``
    ///   for a connection string that cannot be read.
    public static func open(
        _ location: VaultLocation, masterKey: MasterKey, principal: String, readOnly: Bool = false,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> any KeyVault {
        switch location {
        case .folder(let path):
            return try FileVault.open(
                at: path, masterKey: masterKey, principal: principal, readOnly: readOnly, clock: clock)
        case .postgres(let connection, let tls):
            let connectionString = try connection.resolve(environment: environment)
            return try PostgresVault.open(
                connectionString: connectionString.revealed, location: location.description, masterKey: masterKey,
                principal: principal, readOnly: readOnly, tls: tls, clock: clock)
        }
    }

    /// Checks, writing nothing, that a vault can be made at `location` (a free or empty private folder;
    /// a retention of 7-90 days), so `vault init` refuses before it writes a master key file.
    /// - throws: ``VaultError`` and file errors for a folder; ``SecretReferenceError`` for a connection
    ///   string that cannot be read.
    public static func checkInitializable(
        _ location: VaultLocation, retentionDays: Int,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws {
        switch location {
        case .folder(let path): try FileVault.checkInitializable(at: path, retentionDays: retentionDays)
        case .postgres(let connection, _):
            guard (7...90).contains(retentionDays) else { throw VaultError.invalidRetention(retentionDays) }
            _ = try connection.resolve(environment: environment)
        }
    }

    /// Creates a vault at `location`; `principal` gets every permission.
    /// - throws: the backend's errors.
    @discardableResult
    public static func initialize(
        _ location: VaultLocation, masterKey: MasterKey, principal: String, retentionDays: Int = 90,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> any KeyVault {
        switch location {
        case .folder(let path):
            return try FileVault.initialize(
                at: path, masterKey: masterKey, principal: principal, retentionDays: retentionDays, clock: clock)
        case .postgres(let connection, let tls):
            let connectionString = try connection.resolve(environment: environment)
            return try PostgresVault.initialize(
                connectionString: connectionString.revealed, location: location.description, masterKey: masterKey,
                principal: principal, retentionDays: retentionDays, tls: tls, clock: clock)
        }
    }
}

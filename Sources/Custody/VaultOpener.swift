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
    ///   for a connection string that cannot be read, ``VaultBackendMissingError`` for a PostgreSQL vault
    ///   in a build without that backend.
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
            // needs PostgresVault: at the merge of branch pgvault, the next line becomes
            //   return try PostgresVault.open(
            //       connectionString: connectionString.revealed, location: location.description, masterKey: masterKey,
            //       principal: principal, readOnly: readOnly, tls: tls, clock: clock)
            throw VaultBackendMissingError(location: location.description, unused: (connectionString, tls, readOnly))
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
    /// - throws: the backend's errors; ``VaultBackendMissingError`` for a PostgreSQL vault in a build
    ///   without that backend.
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
            // needs PostgresVault: at the merge of branch pgvault, the next line becomes
            //   return try PostgresVault.initialize(
            //       connectionString: connectionString.revealed, location: location.description, masterKey: masterKey,
            //       principal: principal, retentionDays: retentionDays, tls: tls, clock: clock)
            throw VaultBackendMissingError(
                location: location.description, unused: (connectionString, tls, retentionDays))
        }
    }
}

/// A PostgreSQL vault was named, and this build has no PostgreSQL vault backend yet.
public struct VaultBackendMissingError: ActionableError {
    /// The vault's location (`postgres:env:NAME`).
    public let location: String

    /// needs PostgresVault: the placeholder's error; `unused` only keeps the values the real call will take
    /// (the lead removes this type at the merge of branch pgvault).
    init(location: String, unused: (SecretText, PostgresTLS, Any)) {
        self.location = location
    }

    public var item: String { location }
    public var problem: String { "a PostgreSQL vault needs the PostgresVault backend, which this build does not have" }
    public var remedy: String {
        "Keep the vault in a folder (vault.path) for now; the store can be on PostgreSQL (store.postgres)."
    }
    public var exitStatus: ExitStatus { .environment }
}

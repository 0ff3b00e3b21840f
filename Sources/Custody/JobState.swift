import Foundation
import Spec
import Store
import Vault

/// The vault and the store a job spec names, opened: the one place that turns a spec's `vault:` and
/// `store:` into backends, for the runner, token use and `status` alike. Callers hold the result as
/// `any KeyVault` and `any TokenStore`, never a concrete backend.

public struct JobState {
    /// The spec's vault, acting as the spec's principal (or the caller's).
    public let vault: any KeyVault
    /// The spec's store.
    public let store: any TokenStore

    /// Opens the spec's vault with `masterKey` and its store. Read-only opens never write either (I5).
    /// - Parameter environment: where `env:` connection string references are read.
    /// - throws: the vault's and the store's errors (missing, insecure, corrupt, wrong master key, a server
    ///   that cannot be reached, a connection string that cannot be read).
    public static func open(
        spec: JobSpec, masterKey: MasterKey, principal: String, readOnly: Bool,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws -> JobState {
        let vault = try VaultOpener.open(
            spec.vault, masterKey: masterKey, principal: principal, readOnly: readOnly, environment: environment,
            clock: clock)
        // The store the vault serves, never created here: a missing, empty or different one is an error (StateBinding).
        let store = try StateBinding.openStore(spec.store, vault: vault, readOnly: readOnly, environment: environment)
        return JobState(vault: vault, store: store)
    }
}

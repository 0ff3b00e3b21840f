import Crypto
import Foundation
import Vault

/// What a ``KeyVault`` reports through its protocol, read in full by a principal with `get` and `list`:
/// two equal values mean the vault's state did not change, on any backend.
struct VaultState: Equatable {
    /// Live secrets.
    var secrets: [SecretSummary]
    /// Each live secret's versions.
    var versions: [String: [SecretVersion]]
    /// Each live secret's data key per version.
    var keys: [String: [Int: SymmetricKey]]
    /// Soft-deleted secrets.
    var deleted: [DeletedSecret]
    /// Every policy, by principal.
    var policies: [String: Set<VaultPermission>]

    /// Reads `vault` in full.
    init(of vault: any KeyVault) throws {
        secrets = try vault.secrets().sorted { $0.name < $1.name }
        versions = [:]
        keys = [:]
        for secret in secrets {
            let list = try vault.versions(of: secret.name)
            versions[secret.name] = list
            keys[secret.name] = try Dictionary(
                uniqueKeysWithValues: list.map {
                    ($0.number, try vault.dataKey(secret: secret.name, version: $0.number))
                })
        }
        deleted = try vault.deletedSecrets().sorted { $0.name < $1.name }
        policies = Dictionary(uniqueKeysWithValues: try vault.policies().map { ($0.principal, $0.permissions) })
    }
}

import Foundation
import Testing
import Vault

/// One ``KeyVault`` call and the permissions its doc comment names, for checking that each is refused
/// without them and goes through with exactly them. Calls act on the vault ``prepare(_:)`` sets up.
struct VaultCall: Sendable, CustomTestStringConvertible {
    /// The call, as test results name it.
    let name: String
    /// What the protocol says it needs.
    let permissions: Set<VaultPermission>
    /// The call itself.
    let run: @Sendable (any KeyVault) throws -> Void

    var testDescription: String { name }

    /// Secret `t1` with versions 1 (disabled), 2 and 3; secret `gone`, soft-deleted; a policy for `x`.
    static func prepare(_ admin: any KeyVault) throws {
        _ = try admin.createSecret("t1")
        _ = try admin.addVersion(to: "t1")
        _ = try admin.addVersion(to: "t1")
        try admin.disableVersion(secret: "t1", version: 1)
        _ = try admin.createSecret("gone")
        try admin.deleteSecret("gone")
        try admin.setPolicy(for: "x", permissions: [.list])
    }

    /// Every call of the protocol (``KeyVault/requirePermission(_:operation:)`` once per permission).
    static let all: [VaultCall] =
        [
            VaultCall(name: "createSecret", permissions: [.set]) { _ = try $0.createSecret("t2") },
            VaultCall(name: "addVersion", permissions: [.set]) { _ = try $0.addVersion(to: "t1") },
            VaultCall(name: "addVersions", permissions: [.set]) { vault in
                // A backend may refuse the whole batch or each entry: either way the call fails.
                for result in try vault.addVersions(to: ["t1"]) { _ = try result.get() }
            },
            VaultCall(name: "secrets", permissions: [.list]) { _ = try $0.secrets() },
            VaultCall(name: "versions", permissions: [.list]) { _ = try $0.versions(of: "t1") },
            VaultCall(name: "dataKey", permissions: [.get]) { _ = try $0.dataKey(secret: "t1", version: 1) },
            VaultCall(name: "latestDataKey", permissions: [.get]) { _ = try $0.latestDataKey(secret: "t1") },
            VaultCall(name: "disableVersion", permissions: [.set]) { try $0.disableVersion(secret: "t1", version: 2) },
            VaultCall(name: "purgeVersion", permissions: [.purge]) {
                try $0.purgeVersion(secret: "t1", version: 1, servingStore: VaultBackend.servedStore)
            },
            VaultCall(name: "deleteSecret", permissions: [.delete]) { try $0.deleteSecret("t1") },
            VaultCall(name: "recoverSecret", permissions: [.recover]) { try $0.recoverSecret("gone") },
            VaultCall(name: "purgeSecret", permissions: [.purge]) { try $0.purgeSecret("gone") },
            VaultCall(name: "deletedSecrets", permissions: [.list]) { _ = try $0.deletedSecrets() },
            VaultCall(name: "setPolicy", permissions: Set(VaultPermission.allCases)) {
                try $0.setPolicy(for: "x", permissions: [.get])
            },
            VaultCall(name: "removePolicy", permissions: Set(VaultPermission.allCases)) {
                try $0.removePolicy(for: "x")
            },
            VaultCall(name: "policies", permissions: [.list]) { _ = try $0.policies() },
            VaultCall(name: "secretState", permissions: [.list]) { _ = try $0.secretState("t1") },
            VaultCall(name: "purgeOverdue", permissions: [.purge]) { _ = try $0.purgeOverdue() },
        ]
        + VaultPermission.allCases.map { permission in
            VaultCall(name: "requirePermission(\(permission.rawValue))", permissions: [permission]) {
                try $0.requirePermission(permission, operation: "list the store's rows")
            }
        }
}

import Foundation
import Testing

@testable import Crypto
@testable import Report
@testable import Support
@testable import Vault

@Suite struct FileVaultPolicyTests {
    /// Each permission, and an operation that needs exactly it.
    static let cases: [(VaultPermission, String)] = [
        (.get, "get"), (.list, "list"), (.set, "set"), (.delete, "delete"),
        (.recover, "recover"), (.purge, "purge"),
    ]

    private func attempt(_ permission: VaultPermission, on vault: FileVault) throws {
        switch permission {
        case .get: _ = try vault.dataKey(secret: "t1", version: 1)
        case .list: _ = try vault.secrets()
        case .set: _ = try vault.addVersion(to: "t1")
        case .delete: try vault.deleteSecret("t1")
        case .recover: try vault.recoverSecret("gone")
        case .purge: try vault.purgeSecret("gone")
        }
    }

    @Test(arguments: VaultPermission.allCases)
    func eachPermissionIsRequiredAndTheDenialNamesIt(_ permission: VaultPermission) throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let admin = try fixture.open()
            _ = try admin.createSecret("t1")
            _ = try admin.createSecret("gone")
            try admin.deleteSecret("gone")
            try admin.setPolicy(for: "app", permissions: Set(VaultPermission.allCases).subtracting([permission]))
            let error = #expect(throws: VaultError.self) { try attempt(permission, on: fixture.open(as: "app")) }
            guard case .permissionDenied(let principal, let missing, _, _) = error else {
                Issue.record("\(String(describing: error))"); return
            }
            #expect(principal == "app" && missing == permission)
            #expect(error?.description.contains("vault policy set app --permissions \(permission.rawValue)") == true)
            // With the permission granted, the same call goes through.
            try admin.setPolicy(for: "app", permissions: [permission])
            try attempt(permission, on: fixture.open(as: "app"))
        }
    }

    @Test func unknownPrincipalHasNoPermission() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            #expect(throws: VaultError.self) { try fixture.open(as: "stranger").secrets() }
        }
    }

    @Test func onlyAPrincipalWithEveryPermissionMayChangePolicies() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            try fixture.open().setPolicy(for: "ops", permissions: [.get, .list, .set, .delete, .recover])
            let error = #expect(throws: VaultError.self) {
                try fixture.open(as: "ops").setPolicy(for: "ops", permissions: Set(VaultPermission.allCases))
            }
            #expect(
                error
                    == .permissionDenied(
                        principal: "ops", permission: .purge, operation: "set policy for ops", secret: nil))
            #expect(try fixture.open().policies().map(\.principal) == ["admin", "ops"])
        }
    }

    @Test func auditLogRecordsAllowedAndDeniedOperationsButNoKeys() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let admin = try fixture.open()
            _ = try admin.createSecret("t1")
            let key = try admin.dataKey(secret: "t1", version: 1)
            _ = try? fixture.open(as: "stranger").dataKey(secret: "t1", version: 1)
            let log = String(
                decoding: try Data(contentsOf: URL(fileURLWithPath: fixture.path + "/audit.log")), as: UTF8.self)
            let entries = log.split(separator: "\n").map {
                try! JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            #expect(
                entries.contains { $0["operation"] as? String == "create secret" && $0["outcome"] as? String == "ok" })
            #expect(
                entries.contains { $0["principal"] as? String == "stranger" && $0["outcome"] as? String == "denied" })
            for secretText in [
                key.withUnsafeBytes { Data($0).base64EncodedString() }, key.withUnsafeBytes { Hex.encode(Array($0)) },
                fixture.masterKey.base64,
            ] {
                #expect(!log.contains(secretText))
            }
        }
    }
}

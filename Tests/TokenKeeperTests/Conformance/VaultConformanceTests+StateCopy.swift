import Foundation
import Support
import Testing
import Vault

/// The clauses of the ``KeyVault`` contract `state copy` relies on (issue 15, point 5), run against every
/// backend: whole secrets out and in, version numbers kept, and the mark.
extension VaultConformanceTests {
    @Test(arguments: VaultBackend.all)
    func anExportedSecretImportsIntoAnotherVaultWithItsNumbersKeysFlagsDatesAndDeletion(_ backend: VaultBackend)
        throws
    {
        try withTemporaryDirectory { folder in
            let created = Date(timeIntervalSince1970: 1_800_000_000)
            // Two vaults, each with a folder of its own (a server backend names its database after it).
            for side in ["a", "b"] {
                try FileManager.default.createDirectory(
                    atPath: folder + "/" + side, withIntermediateDirectories: false,
                    attributes: [.posixPermissions: 0o700])
            }
            let source = try backend.make(
                folder: folder + "/a", masterKey: try MasterKey.generate(), principal: "admin", clock: { created })
            for name in ["live", "gone"] {
                _ = try source.createSecret(name)
                _ = try source.addVersion(to: name)
                _ = try source.addVersion(to: name)
            }
            try source.disableVersion(secret: "live", version: 1)
            try source.purgeVersion(secret: "live", version: 1, servingStore: VaultBackend.servedStore)
            try source.deleteSecret("gone")
            let exported = try ["live", "gone"].map { try source.exportSecret($0) }
            #expect(exported[0].versions.map(\.number) == [2, 3] && exported[1].deletion?.deletedAt == created)

            let target = try backend.make(
                folder: folder + "/b", masterKey: try MasterKey.generate(), principal: "admin")
            for secret in exported { try target.importSecret(secret) }
            try target.importSecret(exported[0])  // a resumed copy writes it again
            #expect(try ["live", "gone"].map { try target.exportSecret($0) } == exported)
            #expect(try target.versions(of: "live") == source.versions(of: "live"))
            #expect(try target.dataKey(secret: "live", version: 2) == source.dataKey(secret: "live", version: 2))
            #expect(try target.latestDataKey(secret: "live").version == 3)
            #expect(try target.deletedSecrets() == source.deletedSecrets())
            #expect(throws: VaultError.self) { try target.dataKey(secret: "gone", version: 1) }
            // The next version continues the numbering.
            #expect(try target.addVersion(to: "live").number == 4)
        }
    }

    @Test(arguments: VaultBackend.all)
    func aFrozenVaultRefusesChangesButNotReadsAndAMovedOneDoesNotOpen(_ backend: VaultBackend) throws {
        try withTemporaryDirectory { folder in
            let masterKey = try MasterKey.generate()
            let vault = try backend.make(folder: folder, masterKey: masterKey, principal: "admin")
            _ = try vault.createSecret("t1")
            try vault.setStateMark(StateMark(kind: .frozen, peer: "elsewhere", copyID: "c1"))
            #expect(try vault.stateMark()?.kind == .frozen)
            let refusal = StateMarkError.frozen(location: vault.location, destination: "elsewhere")
            #expect(throws: refusal) { try vault.createSecret("t2") }
            #expect(throws: refusal) { try vault.addVersion(to: "t1") }
            #expect(throws: refusal) { for result in try vault.addVersions(to: ["t1"]) { _ = try result.get() } }
            #expect(throws: refusal) { try vault.deleteSecret("t1") }
            #expect(throws: refusal) { try vault.setPolicy(for: "web", permissions: [.get]) }
            #expect(try vault.dataKey(secret: "t1", version: 1) == vault.latestDataKey(secret: "t1").key)
            // A receiving vault (the destination of a copy) takes changes: the copy writes into it.
            try vault.setStateMark(StateMark(kind: .receiving, peer: "source", copyID: "c1"))
            _ = try vault.createSecret("t2")

            try vault.setStateMark(StateMark(kind: .moved, peer: "elsewhere", copyID: "c1"))
            #expect(throws: StateMarkError.moved(location: vault.location, destination: "elsewhere")) {
                try backend.reopen(folder: folder, masterKey: masterKey, principal: "admin")
            }
        }
    }
}

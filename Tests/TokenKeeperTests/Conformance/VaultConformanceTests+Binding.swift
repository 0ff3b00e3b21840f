import Foundation
import Testing
import Vault

/// The clauses of the ``KeyVault`` contract that bind a vault to the store it serves (I1 across a
/// missing or swapped store), run against every backend.
extension VaultConformanceTests {
    @Test(arguments: VaultBackend.all)
    func aNewVaultServesNoStoreAndHoldsNoSecretUntilOneIsMade(_ backend: VaultBackend) throws {
        try withTemporaryDirectory { folder in
            let vault = try backend.makeUnbound(folder: folder, masterKey: try MasterKey.generate(), principal: "admin")
            #expect(try vault.storeBinding() == nil)
            #expect(try vault.holdsSecrets() == false)
            _ = try vault.createSecret("t1")
            #expect(try vault.holdsSecrets())
            try vault.deleteSecret("t1")
            #expect(try vault.holdsSecrets(), "a soft-deleted secret is still held")
        }
    }

    @Test(arguments: VaultBackend.all)
    func aBindingRecordsTheStoreAndWhetherItHeldTokensAndRefusesAnotherStore(_ backend: VaultBackend) throws {
        try withTemporaryDirectory { folder in
            let masterKey = try MasterKey.generate()
            let vault = try backend.make(folder: folder, masterKey: masterKey, principal: "admin")
            #expect(try vault.storeBinding()?.storeID == VaultBackend.servedStore)
            #expect(try vault.storeBinding()?.heldTokens == false)
            try vault.bindStore(VaultBackend.servedStore, heldTokens: true, replacing: nil)
            let reopened = try backend.reopen(folder: folder, masterKey: masterKey, principal: "admin")
            #expect(try reopened.storeBinding()?.heldTokens == true)
            #expect(throws: VaultError.self) {
                try reopened.bindStore("another-store", heldTokens: false, replacing: nil)
            }
            #expect(try reopened.storeBinding()?.storeID == VaultBackend.servedStore)
        }
    }

    @Test(arguments: VaultBackend.all)
    func aVersionIsNeverPurgedForAStoreTheVaultDoesNotServe(_ backend: VaultBackend) throws {
        try withTemporaryDirectory { folder in
            let vault = try backend.make(folder: folder, masterKey: try MasterKey.generate(), principal: "admin")
            _ = try vault.createSecret("t1")
            _ = try vault.addVersion(to: "t1")
            try vault.disableVersion(secret: "t1", version: 1)
            let error = #expect(throws: VaultError.self) {
                try vault.purgeVersion(secret: "t1", version: 1, servingStore: "another-store")
            }
            if case .storeNotServed = error {
            } else {
                Issue.record("expected storeNotServed, got \(String(describing: error))")
            }
            #expect(try vault.versions(of: "t1").map(\.number) == [1, 2])
        }
    }
}

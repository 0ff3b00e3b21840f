import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

/// The binding of vault and store as the library keeps it (issue 10, point 1).
@Suite struct StoreBindingLibraryTests {
    @Test func vaultPurgesAVersionOnlyForTheStoreItServes() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1)
            let vault = try FileVault.open(at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline")
            _ = try vault.addVersion(to: "t1")
            try vault.disableVersion(secret: "t1", version: 1)
            let other = try SQLiteTokenStore.create(at: folder + "/other.db")
            let error = #expect(throws: VaultError.self) {
                try vault.purgeVersion(secret: "t1", version: 1, servingStore: other.identity.id)
            }
            #expect(error?.exitStatus == .environment)
            #expect(try vault.versions(of: "t1").map(\.number) == [1, 2])
            let served = try SQLiteTokenStore(path: fixture.storePath)
            try vault.purgeVersion(secret: "t1", version: 1, servingStore: served.identity.id)
            #expect(try vault.versions(of: "t1").map(\.number) == [2])
        }
    }

    @Test func storesGetDistinctIdentitiesAndACopyKeepsItsOriginals() throws {
        try withTemporaryDirectory { folder in
            let first = try SQLiteTokenStore.create(at: folder + "/a.db")
            let second = try SQLiteTokenStore.create(at: folder + "/b.db")
            #expect(first.identity.id.count == 32 && first.identity.id != second.identity.id)
            try FileManager.default.copyItem(atPath: folder + "/a.db", toPath: folder + "/copy.db")
            #expect(try SQLiteTokenStore(path: folder + "/copy.db").identity == first.identity)
        }
    }

    @Test func storeFromBeforeIdentitiesGetsOneAndTheVaultThatServesNoneAdoptsIt() throws {
        try withTemporaryDirectory { folder in
            // A vault and a store as tokenkeeper left them before identities: no binding, schema version 2.
            let masterKey = try MasterKey.generate()
            let vault = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "admin")
            let key = TokenKey(tenant: "t1", user: "u1", provider: "entra")
            do {
                let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
                let (version, sealed) = try TokenCustodian(vault: vault, store: store).sealInOldFormat(
                    SecretText("rt-old"), for: key, secret: "t1")
                try store.put(
                    StoredToken(
                        key: key, secretName: "t1", keyVersion: version, sealedToken: sealed, issuedAt: Date(),
                        expiresAt: nil, updatedAt: Date()))
                try store.connection.execute(
                    "DROP TABLE store_identity; DROP TABLE token_keys; DROP INDEX tokens_old_format; PRAGMA user_version = 2"
                )
            }
            #expect(try vault.storeBinding() == nil)
            // A dry run may not migrate, so it cannot read the store until a writing command has.
            #expect(throws: StoreError.self) {
                try StateBinding.openStore(at: folder + "/tokens.db", vault: vault, readOnly: true)
            }
            #expect(try vault.storeBinding() == nil, "a read-only open binds nothing")
            let store = try StateBinding.openStore(at: folder + "/tokens.db", vault: vault)
            #expect(store.identity.id.count == 32)
            #expect(try vault.storeBinding()?.storeID == store.identity.id)
            #expect(try vault.storeBinding()?.heldTokens == true)
            #expect(try TokenCustodian(vault: vault, store: store).open(key).revealed == "rt-old")
        }
    }

    @Test func bindingSurvivesARekey() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let vault = try FileVault.open(at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline")
            let before = try vault.storeBinding()
            let newKey = try MasterKey.generate()
            try vault.rekey(to: newKey)
            let reopened = try FileVault.open(at: fixture.vaultPath, masterKey: newKey, principal: "pipeline")
            #expect(try reopened.storeBinding() == before)
            #expect(before != nil)
        }
    }

    @Test func custodianRefusesToPutTokensIntoAStoreTheVaultDoesNotServe() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let vault = try FileVault.open(at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline")
            let other = try SQLiteTokenStore.create(at: folder + "/other.db")
            let custodian = TokenCustodian(vault: vault, store: other)
            #expect(throws: VaultError.self) {
                try custodian.put(
                    TokenKey(tenant: "t1", user: "u1", provider: "entra"), token: SecretText("rt"), issuedAt: Date(),
                    expiresAt: nil)
            }
            #expect(try other.count() == 0)
        }
    }
}

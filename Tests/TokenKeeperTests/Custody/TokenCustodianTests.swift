import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

@Suite struct TokenCustodianTests {
    private func custodian(_ folder: String) throws -> TokenCustodian {
        let fixture = try VaultFixture(folder: folder)
        return TokenCustodian(vault: try fixture.open(), store: try SQLiteTokenStore.create(at: folder + "/tokens.db"))
    }

    let alice = TokenKey(tenant: "t1", user: "alice", provider: "entra")
    let bob = TokenKey(tenant: "t1", user: "bob", provider: "entra")

    @Test func putThenOpenReturnsTheTokenAndCreatesTheTenantSecret() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            #expect(try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil) == .added)
            #expect(try custodian.open(alice).revealed == "rt-a")
            #expect(try custodian.vault.secrets().map(\.name) == ["t1"])
            #expect(try custodian.put(alice, token: SecretText("rt-a2"), issuedAt: Date(), expiresAt: nil) == .updated)
            #expect(try custodian.open(alice).revealed == "rt-a2")
        }
    }

    @Test func ciphertextCopiedToAnotherRowFailsToOpen() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.put(bob, token: SecretText("rt-b"), issuedAt: Date(), expiresAt: nil)
            var bobRow = try #require(try custodian.store.get(bob))
            bobRow.sealedToken = try custodian.store.get(alice)?.sealedToken
            try custodian.store.put(bobRow)
            let error = #expect(throws: CustodyError.self) { try custodian.open(bob) }
            #expect(error?.item == "token t1/bob/entra")
        }
    }

    @Test func ciphertextRelabelledWithAnotherKeyVersionFailsToOpen() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            _ = try custodian.vault.addVersion(to: "t1")
            var row = try #require(try custodian.store.get(alice))
            row.keyVersion = 2
            try custodian.store.put(row)
            #expect(throws: CustodyError.self) { try custodian.open(alice) }
        }
    }

    @Test func flippedByteInAStoredCiphertextIsReportedNamingTheRow() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            var row = try #require(try custodian.store.get(alice))
            row.sealedToken![20] ^= 0x80
            try custodian.store.put(row)
            let error = #expect(throws: CustodyError.self) { try custodian.open(alice) }
            #expect(error?.description.contains("t1/alice/entra") == true)
        }
    }

    @Test func tokenOfASoftDeletedTenantCannotBeOpened() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.vault.deleteSecret("t1")
            let fresh = TokenCustodian(vault: custodian.vault, store: custodian.store)
            #expect(throws: VaultError.secretDeleted("t1")) { try fresh.open(alice) }
        }
    }

    @Test func storeFileNeverHoldsTheTokenInTheClear() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-PLAINTEXT-MARKER"), issuedAt: Date(), expiresAt: nil)
            let store = try #require(custodian.store as? SQLiteTokenStore)
            try store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            let bytes = try Data(contentsOf: URL(fileURLWithPath: folder + "/tokens.db"))
            #expect(bytes.range(of: Data("rt-PLAINTEXT-MARKER".utf8)) == nil)
        }
    }
}

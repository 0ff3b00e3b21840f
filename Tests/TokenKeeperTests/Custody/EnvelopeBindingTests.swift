import Foundation
import Testing

@testable import Crypto
@testable import Custody
@testable import Report
@testable import Store
@testable import Support
@testable import Vault

/// Envelope encryption and its binding (I2): each token under its own data key, the data key wrapped
/// under the tenant's key version, both bound to the row's tenant, user and provider, never its id.
@Suite struct EnvelopeBindingTests {
    let alice = TokenKey(tenant: "t1", user: "alice", provider: "entra")
    let bob = TokenKey(tenant: "t1", user: "bob", provider: "entra")

    private func custodian(_ folder: String) throws -> TokenCustodian {
        let vault = try FileVault.initialize(
            at: folder + "/vault", masterKey: try MasterKey.generate(), principal: "admin")
        return TokenCustodian(vault: vault, store: try SQLiteTokenStore.create(at: folder + "/tokens.db"))
    }

    @Test func tokenPutIsSealedUnderItsOwnDataKeyWrappedByTheNewestVersion() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.put(bob, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            let a = try #require(try custodian.store.get(alice)), b = try #require(try custodian.store.get(bob))
            let keyA = try #require(a.wrappedKey), keyB = try #require(b.wrappedKey)
            #expect(a.keyVersion == 1)
            #expect(keyA.count == 60, "nonce, wrapped key and tag: under 100 bytes")
            #expect(keyA != keyB, "each token has its own data key")
            #expect(a.sealedToken != b.sealedToken)
            #expect(try custodian.open(alice).revealed == "rt-a")
            // The token row itself says it is in the envelope format; the version lives beside it.
            let store = try #require(custodian.store as? SQLiteTokenStore)
            #expect(try store.connection.scalar("SELECT count(*) FROM tokens WHERE key_version = 0") == 2)
            #expect(try store.connection.scalar("SELECT count(*) FROM token_keys WHERE key_version = 1") == 2)
        }
    }

    @Test func dataKeyAndCiphertextCopiedTogetherToAnotherRowFailToOpen() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.put(bob, token: SecretText("rt-b"), issuedAt: Date(), expiresAt: nil)
            let aliceRow = try #require(try custodian.store.get(alice))
            var bobRow = try #require(try custodian.store.get(bob))
            bobRow.sealedToken = aliceRow.sealedToken
            bobRow.wrappedKey = aliceRow.wrappedKey
            try custodian.store.put(bobRow)
            let error = #expect(throws: CustodyError.self) { try custodian.open(bob) }
            #expect(error?.item == "token t1/bob/entra")
        }
    }

    @Test func dataKeyCopiedAloneToAnotherRowDoesNotOpenThatRowsToken() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.put(bob, token: SecretText("rt-b"), issuedAt: Date(), expiresAt: nil)
            var bobRow = try #require(try custodian.store.get(bob))
            bobRow.wrappedKey = try custodian.store.get(alice)?.wrappedKey
            try custodian.store.put(bobRow)
            #expect(throws: CustodyError.self) { try custodian.open(bob) }
        }
    }

    @Test func dataKeyRelabelledWithAnotherVersionFailsToOpen() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            _ = try custodian.vault.addVersion(to: "t1")
            var row = try #require(try custodian.store.get(alice))
            row.keyVersion = 2
            try custodian.store.put(row)
            #expect(try custodian.store.get(alice)?.keyVersion == 2)
            #expect(throws: CustodyError.self) { try custodian.open(alice) }
        }
    }

    @Test func wrappedDataKeyUnwrapsOnlyForItsOwnRowSecretAndVersion() throws {
        let tenantKey = try AESGCMContext(key: SymmetricKey.random())
        let plain = Array("rt-secret".utf8)
        let (sealed, wrapped) = try plain.withUnsafeBytes {
            try Envelope.seal($0, for: alice, secret: "t1", version: 1, wrapper: tenantKey)
        }
        #expect(
            try Envelope.open(sealed, wrappedKey: wrapped, for: alice, secret: "t1", version: 1, unwrapper: tenantKey)
                == plain)
        for (key, secret, version) in [
            (bob, "t1", 1), (TokenKey(tenant: "t2", user: "alice", provider: "entra"), "t1", 1),
            (TokenKey(tenant: "t1", user: "alice", provider: "google"), "t1", 1), (alice, "t2", 1), (alice, "t1", 2),
        ] {
            #expect(throws: CryptoError.self) {
                try Envelope.unwrap(wrapped, for: key, secret: secret, version: version, unwrapper: tenantKey)
            }
        }
    }

    @Test func tokenSealedUnderADataKeyOpensOnlyForItsOwnRow() throws {
        let tenantKey = try AESGCMContext(key: SymmetricKey.random())
        let plain = Array("rt-secret".utf8)
        let (sealed, wrapped) = try plain.withUnsafeBytes {
            try Envelope.seal($0, for: alice, secret: "t1", version: 1, wrapper: tenantKey)
        }
        // The same data key, wrapped for bob's row, still does not open alice's token there: the token names its row.
        let dek = try Envelope.unwrap(wrapped, for: alice, secret: "t1", version: 1, unwrapper: tenantKey)
        var binding: [UInt8] = []
        TokenBinding.dataKey(for: bob, secret: "t1", keyVersion: 1, into: &binding)
        let forBob = try dek.withUnsafeBytes { raw in
            try binding.withUnsafeBytes { try tenantKey.seal(raw, associatedData: $0) }
        }
        #expect(try Envelope.unwrap(forBob, for: bob, secret: "t1", version: 1, unwrapper: tenantKey) == dek)
        #expect(throws: CryptoError.self) {
            try Envelope.open(sealed, wrappedKey: forBob, for: bob, secret: "t1", version: 1, unwrapper: tenantKey)
        }
    }

    @Test func rowsCopiedToAnotherStoreUnderOtherRowIDsStillOpen() throws {
        try withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            try custodian.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            try custodian.put(bob, token: SecretText("rt-b"), issuedAt: Date(), expiresAt: nil)
            let rows = [try #require(try custodian.store.get(bob)), try #require(try custodian.store.get(alice))]
            let copy = try SQLiteTokenStore.create(at: folder + "/copy.db")
            try copy.put(
                StoredToken(
                    key: TokenKey(tenant: "t0", user: "x", provider: "entra"), secretName: "t0", keyVersion: 1,
                    sealedToken: [1], issuedAt: Date()))
            try copy.insertBatch(
                rows.map {
                    var row = $0
                    row.id = 0
                    return row
                })
            #expect(try copy.get(alice)?.id != rows[1].id, "the copy gives other row ids")
            let reader = TokenCustodian(vault: custodian.vault, store: copy)
            #expect(try reader.open(alice).revealed == "rt-a")
            #expect(try reader.open(bob).revealed == "rt-b")
        }
    }

    @Test func rotationRewritesTheDataKeyAndLeavesTheSealedTokenAsItWas() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 3)
            let key = TokenKey(tenant: "t1", user: "u1", provider: "entra")
            let before = try #require(try SQLiteTokenStore(path: fixture.storePath).get(key))
            let report = try await fixture.run(try fixture.spec(RotateStageTests.rotateAll))
            #expect(report.exitStatus == .success)
            let after = try #require(try SQLiteTokenStore(path: fixture.storePath).get(key))
            #expect(after.keyVersion == 2)
            #expect(after.sealedToken == before.sealedToken, "the token itself is not rewritten")
            #expect(after.wrappedKey != before.wrappedKey)
            #expect(try fixture.verifyEveryToken() == 3)
        }
    }
}

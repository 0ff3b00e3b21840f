import Foundation
import Testing

@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// `token import` seals a batch with one custodian (on its reading thread, over its own store session) and
/// writes it with another: sealing writes nothing, and the written batch opens as if put one by one.
@Suite struct TokenCustodianBatchTests {
    let alice = TokenKey(tenant: "t1", user: "alice", provider: "entra")
    let bob = TokenKey(tenant: "t1", user: "bob", provider: "entra")

    @Test func aBatchSealedByOneCustodianIsWrittenOnlyWhenAnotherStoresIt() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let writer = TokenCustodian(vault: vault, store: store)
            let sealer = TokenCustodian(vault: vault, store: try store.openSession())
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            let sealed = try sealer.sealBatch([
                (alice, SecretText("rt-a"), now, nil),
                (bob, SecretText("rt b"), now, nil),  // white space: not one token, so it fails alone
            ])
            #expect(try store.count() == 0)
            let outcomes = try writer.storeBatch(sealed)
            guard case .stored(.added) = outcomes[0], case .failed = outcomes[1] else {
                Issue.record("outcomes: \(outcomes)")
                return
            }
            #expect(try writer.open(alice).revealed == "rt-a")
            #expect(try store.get(bob) == nil)
            #expect(try store.keyVersionCounts(tenant: "t1") == [1: 1])
        }
    }
}

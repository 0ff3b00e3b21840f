import Foundation
import Testing

@testable import Custody
@testable import Identity
@testable import Store
@testable import Support
@testable import Vault

/// The one I8 commit path (`TokenCustodian.commitRedeemed`) that the refresh stage and token use share:
/// under the lease, after a lost lease on an unchanged row, and never over another holder's token.
@Suite struct RefreshCommitTests {
    let key = TokenKey(tenant: "t1", user: "alice", provider: "entra")
    let past = Date(timeIntervalSince1970: 1_800_000_000)

    private func custodian(_ folder: String) throws -> TokenCustodian {
        let fixture = try VaultFixture(folder: folder)
        let custodian = TokenCustodian(
            vault: try fixture.open(), store: try SQLiteTokenStore.create(at: folder + "/tokens.db"))
        try custodian.put(key, token: SecretText("rt-old"), issuedAt: past, expiresAt: nil)
        return custodian
    }

    private func answer(_ refreshToken: String) throws -> TokenGrantResponse {
        try TokenGrantResponse.parse(
            Data(#"{"access_token":"at","token_type":"Bearer","refresh_token":"\#(refreshToken)"}"#.utf8),
            endpoint: "test")
    }

    @Test func aCommitUnderTheLeaseStoresTheNewTokenAndClearsTheLease() async throws {
        try await withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            let row = try #require(try custodian.store.get(key))
            #expect(try custodian.store.acquireLease(key, owner: "job", until: past.addingTimeInterval(60), now: past))
            let commit = try await custodian.commitRedeemed(
                row, owner: "job", response: try answer("rt-new"), usedToken: SecretText("rt-old"),
                at: past.addingTimeInterval(1))
            #expect(commit == .committed)
            #expect(try custodian.open(key).revealed == "rt-new")
            #expect(try custodian.store.get(key)?.leaseOwner == nil)
        }
    }

    @Test func aLostLeaseOnAnUnchangedRowStillStoresTheNewTokenAndKeepsTheOtherHoldersLease() async throws {
        try await withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            let row = try #require(try custodian.store.get(key))
            #expect(try custodian.store.acquireLease(key, owner: "job", until: past.addingTimeInterval(1), now: past))
            // The lease ran out and a web request took the row, but has not committed anything yet.
            #expect(
                try custodian.store.acquireLease(
                    key, owner: "web", until: past.addingTimeInterval(60), now: past.addingTimeInterval(2)))
            let commit = try await custodian.commitRedeemed(
                row, owner: "job", response: try answer("rt-new"), usedToken: SecretText("rt-old"),
                at: past.addingTimeInterval(3))
            #expect(commit == .committedAfterLeaseLost)
            #expect(try custodian.open(key).revealed == "rt-new")
            #expect(try custodian.store.get(key)?.leaseOwner == "web")
        }
    }

    @Test func aLostLeaseOnARowAnotherHolderChangedKeepsTheirTokenAndSaysLeaseLost() async throws {
        try await withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            let row = try #require(try custodian.store.get(key))
            #expect(try custodian.store.acquireLease(key, owner: "job", until: past.addingTimeInterval(1), now: past))
            #expect(
                try custodian.store.acquireLease(
                    key, owner: "web", until: past.addingTimeInterval(60), now: past.addingTimeInterval(2)))
            let theirs = try await custodian.commitRedeemed(
                row, owner: "web", response: try answer("rt-theirs"), usedToken: SecretText("rt-old"),
                at: past.addingTimeInterval(3))
            #expect(theirs == .committed)
            let ours = try await custodian.commitRedeemed(
                row, owner: "job", response: try answer("rt-ours"), usedToken: SecretText("rt-old"),
                at: past.addingTimeInterval(4))
            #expect(ours == .leaseLost)
            #expect(try custodian.open(key).revealed == "rt-theirs")
            let store = try #require(custodian.store as? SQLiteTokenStore)
            #expect(try store.keptKeyVersionRows() == (try store.recountedKeyVersionRows()))
        }
    }

    @Test func aProviderThatKeepsTheRefreshTokenCommitsTheSameTokenResealed() async throws {
        try await withTemporaryDirectory { folder in
            let custodian = try custodian(folder)
            let row = try #require(try custodian.store.get(key))
            #expect(try custodian.store.acquireLease(key, owner: "job", until: past.addingTimeInterval(60), now: past))
            let kept = try TokenGrantResponse.parse(
                Data(#"{"access_token":"at","token_type":"Bearer"}"#.utf8), endpoint: "test")
            #expect(
                try await custodian.commitRedeemed(
                    row, owner: "job", response: kept, usedToken: SecretText("rt-old"), at: past) == .committed)
            #expect(try custodian.open(key).revealed == "rt-old")
        }
    }

    @Test func aLongLivedCustodianSealsUnderTheVersionThatIsNewestNowNotOneItRemembers() async throws {
        try await withTemporaryDirectory { folder in
            let custodian = try custodian(folder)  // sealed alice's token under version 1 and remembers it
            _ = try custodian.vault.addVersion(to: "t1")  // a rotation elsewhere (another process's vault object)
            let row = try #require(try custodian.store.get(key))
            #expect(try custodian.store.acquireLease(key, owner: "web", until: past.addingTimeInterval(60), now: past))
            let commit = try await custodian.commitRedeemed(
                row, owner: "web", response: try answer("rt-new"), usedToken: SecretText("rt-old"), at: past)
            #expect(commit == .committed)
            #expect(try custodian.store.get(key)?.keyVersion == 2)
            #expect(try custodian.open(key).revealed == "rt-new")
        }
    }

    @Test func theSecretOfARowIsItsTenants() {
        #expect(TokenCustodian.secretName(for: key) == "t1")
    }
}

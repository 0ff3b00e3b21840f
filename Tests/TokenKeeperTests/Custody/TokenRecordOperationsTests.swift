import Foundation
import Testing

@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// The token commands' checks live in the library: a Swift caller gets the same permission checks (and
/// audit) as `tokenkeeper token list/show/delete/drop-refresh-token` and `vault audit`.
@Suite struct TokenRecordOperationsTests {
    let alice = TokenKey(tenant: "t1", user: "alice", provider: "entra")

    /// A vault with one token for alice, and a principal `app` that holds only `permissions`.
    private func world(_ folder: String, app permissions: Set<VaultPermission>) throws -> (
        admin: TokenCustodian, app: TokenCustodian
    ) {
        let fixture = try VaultFixture(folder: folder)
        let admin = TokenCustodian(
            vault: try fixture.open(), store: try SQLiteTokenStore.create(at: folder + "/tokens.db"))
        try admin.put(alice, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
        try admin.vault.setPolicy(for: "app", permissions: permissions)
        let app = TokenCustodian(
            vault: try fixture.open(as: "app"), store: try SQLiteTokenStore(path: folder + "/tokens.db"))
        return (admin, app)
    }

    private func isDenied(_ body: () throws -> Void) -> Bool {
        do {
            try body()
            return false
        } catch VaultError.permissionDenied {
            return true
        } catch {
            return false
        }
    }

    @Test func listingTokensNeedsList() throws {
        try withTemporaryDirectory { folder in
            let (admin, app) = try world(folder, app: [.get])
            #expect(isDenied { try app.listTokens { _ in true } })
            var keys: [TokenKey] = []
            try admin.listTokens {
                keys.append($0.key); return true
            }
            #expect(keys == [alice])
        }
    }

    @Test func showingATokenNeedsListAndRevealingItNeedsGet() throws {
        try withTemporaryDirectory { folder in
            let (_, listOnly) = try world(folder, app: [.list])
            #expect(try listOnly.showToken(alice, reveal: false).token == nil)
            #expect(isDenied { _ = try listOnly.showToken(alice, reveal: true) })
        }
    }

    @Test func deletingOrDroppingATokenNeedsDeleteAndChangesNothingWithout() throws {
        try withTemporaryDirectory { folder in
            let (admin, app) = try world(folder, app: [.get, .list])
            #expect(isDenied { _ = try app.deleteToken(alice) })
            #expect(isDenied { _ = try app.dropRefreshToken(alice) })
            #expect(try admin.open(alice).revealed == "rt-a")
            #expect(try admin.dropRefreshToken(alice))
            #expect(try admin.store.get(alice)?.status == .revoked)
            #expect(try admin.deleteToken(alice))
            #expect(try admin.deleteToken(alice) == false)
        }
    }

    @Test func droppingTheTokenOfNoRowIsNotFound() throws {
        try withTemporaryDirectory { folder in
            let (admin, _) = try world(folder, app: [])
            #expect(throws: StoreError.self) {
                try admin.dropRefreshToken(TokenKey(tenant: "t1", user: "nobody", provider: "entra"))
            }
        }
    }

    @Test func readingTheAuditLogNeedsListAndShowsTheChecksItMade() throws {
        try withTemporaryDirectory { folder in
            let (admin, app) = try world(folder, app: [.get])
            let appVault = try #require(app.vault as? FileVault)
            #expect(isDenied { _ = try appVault.auditEntries(last: 10) })
            let adminVault = try #require(admin.vault as? FileVault)
            let entries = try adminVault.auditEntries(last: 50)
            #expect(
                entries.contains { $0.contains("\"app\"") && $0.contains("read the audit log") },
                "the denied read is audited")
            #expect(entries.count <= 50)
            #expect(try adminVault.auditEntries(last: 1).count == 1)
        }
    }
}

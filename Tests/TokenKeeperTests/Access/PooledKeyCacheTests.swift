import Foundation
import Testing

@testable import Access
@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// The pooled store sessions of one `TokenAccess` (one web host process) share one cache of version keys:
/// the vault is asked for a key once per process, whichever session needs it first, never once per
/// session. Counted by the file vault's own audit log, which records every key fetch.
@Suite struct PooledKeyCacheTests {
    /// How many requests have reached their session so far.
    actor Arrivals {
        private(set) var count = 0
        func arrive() { count += 1 }
    }

    @Test func concurrentRequestsOverDifferentPooledSessionsAskTheVaultForAKeyOnce() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            let store = try SQLiteTokenStore.create(at: folder + "/tokens.db")
            let key = TokenKey(tenant: "t1", user: "alice", provider: "entra")
            try TokenCustodian(vault: vault, store: store).put(
                key, token: SecretText("rt-a"), issuedAt: Date(), expiresAt: nil)
            // A new process's pool: its first session has fetched no key yet.
            let pool = StoreSessionPool(first: TokenCustodian(vault: vault, store: store), size: 4, wait: 10)
            let arrivals = Arrivals()
            let opened = try await withThrowingTaskGroup(of: (ObjectIdentifier, String).self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        try await pool.withCustodian { custodian in
                            // Each request keeps its session until all four hold one, so they use four
                            // sessions and then open the token at once (at most 5 s).
                            await arrivals.arrive()
                            for _ in 0..<500 where await arrivals.count < 4 {
                                try await Task.sleep(for: .milliseconds(10))
                            }
                            return (ObjectIdentifier(custodian), try custodian.open(key).revealed)
                        }
                    }
                }
                var opened: [(ObjectIdentifier, String)] = []
                for try await one in group { opened.append(one) }
                return opened
            }
            #expect(Set(opened.map(\.0)).count == 4, "the requests did not use four sessions")
            #expect(opened.allSatisfy { $0.1 == "rt-a" })
            #expect(pool.openSessions == 4)
            try vault.flushAuditLog()
            let fetches = try AuditLogDurabilityTests.count("get key", secret: "t1", version: 1, in: fixture.path)
            #expect(fetches == 1, "four sessions asked the vault \(fetches) times for one key")
        }
    }
}

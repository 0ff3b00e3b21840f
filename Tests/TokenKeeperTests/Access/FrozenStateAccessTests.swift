import Foundation
import Testing

@testable import Access
@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// Token use at a state `state copy` has frozen or moved: refused with exit 3 before anything is redeemed,
/// against the real identity provider (its redemption count shows nothing reached it).
@Suite(.serialized) struct FrozenStateAccessTests {
    typealias World = RefreshStageTests.World

    static let key = TokenKey(tenant: "t1", user: "u0", provider: "local")

    @Test func tokenUseDuringTheFreezeIsRefusedBeforeAnythingIsRedeemed() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await World(folder, users: 1)
            // A web host that was running before the freeze, and one that starts during it.
            let running = try TokenAccess(spec: try world.spec(), principal: "pipeline", environment: world.environment)
            let store = try SQLiteTokenStore(path: world.fixture.storePath)
            let mark = StateMark(kind: .frozen, peer: "vault /new/vault with store /new/tokens.db", copyID: "copy-1")
            try store.setStateMark(mark)
            let starting = try TokenAccess(
                spec: try world.spec(), principal: "pipeline", environment: world.environment)

            for access in [running, starting] {
                let error = await #expect(throws: StateMarkError.self) {
                    _ = try await access.accessToken(for: Self.key, forceRefresh: true)
                }
                #expect(error == .frozen(location: world.fixture.storePath, destination: mark.peer))
                #expect(error?.exitStatus == .environment)
                #expect(error?.description.contains("being copied to \(mark.peer)") == true)
            }
            #expect(try await world.idp.stats()["redemptions"] ?? -1 == 0)
            #expect(try store.get(Self.key)?.leaseOwner == nil)

            // Once moved, the running host is refused naming the destination; a new one cannot even open.
            try store.setStateMark(StateMark(kind: .moved, peer: mark.peer, copyID: "copy-1"))
            let moved = await #expect(throws: StateMarkError.self) {
                _ = try await running.accessToken(for: Self.key, forceRefresh: true)
            }
            #expect(moved == .moved(location: world.fixture.storePath, destination: mark.peer))
            #expect(throws: StateMarkError.self) {
                _ = try TokenAccess(spec: try world.spec(), principal: "pipeline", environment: world.environment)
            }
            #expect(try await world.idp.stats()["redemptions"] ?? -1 == 0)
        }
    }
}

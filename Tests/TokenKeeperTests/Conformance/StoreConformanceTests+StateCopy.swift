import Foundation
import Store
import Support
import Testing

/// The clauses of the ``TokenStore`` contract `state copy` relies on (issue 15, point 5), run against
/// every backend: the mark, and whole rows copied as they are.
extension StoreConformanceTests {
    private func withNewStore<T>(_ backend: StoreBackend, _ body: (any TokenStore, String) throws -> T) throws -> T {
        try withTemporaryDirectory { folder in try body(try backend.make(folder: folder), folder) }
    }

    @Test(arguments: StoreBackend.all)
    func aFrozenStoreRefusesNewLeasesRowWritesAndLateCommitsButLetsALiveLeaseCommit(_ backend: StoreBackend) throws {
        try withNewStore(backend) { store, _ in
            let (held, other) = (Self.key("a", "u1"), Self.key("a", "u2"))
            try store.putBatch([Self.token("a", "u1"), Self.token("a", "u2")])
            #expect(try store.acquireLease(held, owner: "web-1", until: Date() + 60, now: Date()))
            #expect(try store.stateMark() == nil)
            let mark = StateMark(kind: .frozen, peer: "vault /v with store /s", copyID: "c1")
            try store.setStateMark(mark)
            #expect(try store.stateMark()?.kind == .frozen && store.stateMark()?.peer == mark.peer)
            #expect(try store.liveLeaseCount(now: Date()) == 1)

            let refusal = StateMarkError.frozen(location: store.location, destination: mark.peer)
            #expect(throws: refusal) { try store.acquireLease(other, owner: "web-2", until: Date() + 60, now: Date()) }
            #expect(throws: refusal) { try store.put(Self.token("a", "u3")) }
            #expect(throws: refusal) { try store.putBatch([Self.token("a", "u3")]) }
            #expect(throws: refusal) { try store.insertBatch([Self.token("a", "u3")]) }
            #expect(throws: refusal) { try store.delete(other) }
            #expect(throws: refusal) { try store.dropRefreshToken(other, now: Date()) }
            #expect(throws: refusal) { try store.deleteTenant("a") }
            #expect(throws: refusal) {
                try store.commitRefreshed(
                    other, replacing: [1, 2, 3], owner: "web-2", secretName: "a", keyVersion: 1, sealedToken: [7],
                    refreshedAt: Date(), expiresAt: nil)
            }
            #expect(
                try store.commitRefreshed(
                    held, owner: "web-1", secretName: "a", keyVersion: 1, sealedToken: [8], refreshedAt: Date(),
                    expiresAt: nil))
            #expect(try store.get(held)?.sealedToken == [8] && store.get(other)?.sealedToken == [1, 2, 3])
            #expect(try store.count() == 2 && store.liveLeaseCount(now: Date()) == 0)

            try store.setStateMark(nil)
            #expect(try store.acquireLease(other, owner: "web-2", until: Date() + 60, now: Date()))
        }
    }

    @Test(arguments: StoreBackend.all)
    func copiedRowsAreReadInKeyOrderAndGoOnlyIntoAReceivingStoreWholeUnleasedAndCounted(_ backend: StoreBackend)
        throws
    {
        try withTemporaryDirectory { folder in
            for side in ["source", "target"] { try PrivateFiles.createPrivateDirectory(folder + "/" + side) }
            let source = try backend.make(folder: folder + "/source")
            var rows = [
                Self.token("b", "u1", version: 2), Self.token("a", "u2", version: 1),
                Self.token("a", "u1", version: 3, status: .needsReauth),
                Self.token("a", "u3", sealed: nil, status: .revoked),
            ]
            rows[2].failureCount = 2
            rows[2].lastErrorCode = "invalid_grant"
            rows[2].expiresAt = Self.t0
            rows[0].leaseOwner = "web-1"
            rows[0].leaseUntil = Self.t0
            try source.putBatch(rows)

            var read: [CopiedTokenRow] = []
            var after: TokenKey?
            for _ in 0..<10 {
                let batch = try source.copyRows(after: after, limit: 3)
                guard let last = batch.last else { break }
                read += batch
                after = last.token.key
            }
            #expect(
                read.map(\.token.key) == [
                    Self.key("a", "u1"), Self.key("a", "u2"), Self.key("a", "u3"), Self.key("b", "u1"),
                ])
            #expect(read.first { $0.token.key == Self.key("b", "u1") }?.token.leaseOwner == "web-1")

            let target = try backend.make(folder: folder + "/target")
            let refused = #expect(throws: StoreError.self) { try target.insertCopiedRows(read) }
            #expect(refused?.description == StoreError.notReceiving(path: target.location).description)
            try target.setStateMark(StateMark(kind: .receiving, peer: "source", copyID: "c1"))
            #expect(try target.insertCopiedRows(read) == 4)
            #expect(try target.insertCopiedRows(Array(read.prefix(2))) == 2, "a resumed copy writes rows again")
            for row in read {
                let copy = try #require(try target.get(row.token.key))
                #expect(CopiedTokenRow(token: copy).sameState(as: row))
                #expect(copy.leaseOwner == nil && copy.leaseUntil == nil)
            }
            #expect(try target.count() == 4)
            for tenant in ["a", "b"] {
                #expect(try target.keyVersionCounts(tenant: tenant) == source.keyVersionCounts(tenant: tenant))
            }
            #expect(try target.keyVersionCounts(tenant: "a") == [1: 1, 3: 1])
        }
    }

    @Test(arguments: StoreBackend.all)
    func aStoreMarkedMovedDoesNotOpenAgainAndNamesTheDestination(_ backend: StoreBackend) throws {
        try withNewStore(backend) { store, folder in
            try store.setStateMark(StateMark(kind: .moved, peer: "vault /v with store /s", copyID: "c1"))
            let error = #expect(throws: StateMarkError.self) { try backend.openReadOnly(folder: folder) }
            #expect(error?.description.contains("was moved to vault /v with store /s") == true)
            #expect(throws: StateMarkError.self) {
                try store.acquireLease(Self.key(), owner: "w", until: Date() + 60, now: Date())
            }
        }
    }
}

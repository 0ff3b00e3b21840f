import Foundation
import Store
import Testing

/// The ``TokenStore`` contract of envelope encryption, on every backend: wrapped data keys kept apart
/// from the tokens, rewrapped with compare-and-set and counted under their version (I1); rows in the old
/// format counted, read and migrated; a row's token and wrapped key always change together.
@Suite struct StoreEnvelopeConformanceTests {
    static let t0 = StoreConformanceTests.t0

    /// An envelope row of `tenant` on `version` with a wrapped key made of `marker`.
    static func envelope(_ tenant: String = "a", _ user: String = "u1", version: Int = 1, marker: UInt8 = 1)
        -> StoredToken
    {
        var token = StoreConformanceTests.token(tenant, user, version: version, sealed: [marker, 2, 3])
        token.wrappedKey = wrapped(marker)
        return token
    }

    /// A 60-byte wrapped key made of `marker`.
    static func wrapped(_ marker: UInt8) -> [UInt8] { [UInt8](repeating: marker, count: 60) }

    private func withStore<T>(_ backend: StoreBackend, _ body: (any TokenStore) throws -> T) throws -> T {
        try withTemporaryDirectory { folder in try body(try backend.make(folder: folder)) }
    }

    /// Every data key row the narrow table holds, by user.
    private func dataKeys(_ store: any TokenStore) throws -> [String: DataKeyRow] {
        var rows: [String: DataKeyRow] = [:]
        var after: Int64 = 0
        while true {
            let (page, last) = try store.dataKeyRows(afterID: after, scanLimit: 2) { _, _ in true }
            for row in page { rows[row.key.user] = row }
            guard let last else { return rows }
            after = last
        }
    }

    @Test(arguments: StoreBackend.all)
    func envelopeRowsKeepTheirWrappedKeyApartAndCountUnderItsVersion(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.envelope("a", "u1", version: 1, marker: 1))
            try store.insertBatch([Self.envelope("a", "u2", version: 2, marker: 2)])
            #expect(try store.putBatch([Self.envelope("b", "u3", version: 1, marker: 3)]) == [true])
            let read = try #require(try store.get(StoreConformanceTests.key("a", "u2")))
            #expect(read.keyVersion == 2)
            #expect(read.wrappedKey == Self.wrapped(2))
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
            #expect(try store.oldFormatCounts().isEmpty)
            let keys = try dataKeys(store)
            #expect(Set(keys.keys) == ["u1", "u2", "u3"])
            #expect(keys["u1"]?.keyVersion == 1 && keys["u1"]?.wrappedKey == Self.wrapped(1))
            #expect(keys["u3"]?.key == StoreConformanceTests.key("b", "u3"))
        }
    }

    @Test(arguments: StoreBackend.all)
    func rewrapOfARangeOfABatchWritesThatRangeOnlyAndMovesItsCounts(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for (index, user) in ["u1", "u2", "u3"].enumerated() {
                try store.put(Self.envelope(index == 2 ? "b" : "a", user, marker: UInt8(index + 1)))
            }
            var seen: [String: (id: Int64, wrapped: [UInt8])] = [:]
            _ = try store.scanDataKeys(afterID: 0, limit: 10) { row in
                seen[row.key.user] = (row.id, Array(row.wrappedKey))
            }
            var batch = DataKeyRewrapBatch(tenants: ["a", "b"])
            let replacement = Self.wrapped(9)
            for (user, tenant) in [("u1", 0), ("u2", 0), ("u3", 1)] {
                try seen[user]!.wrapped.withUnsafeBytes { expected in
                    try replacement.withUnsafeBytes { replacement in
                        try batch.append(
                            id: seen[user]!.id, tenant: tenant, expectedVersion: 1, newVersion: 2, expectedKey: expected
                        ) { $0.copyMemory(from: replacement) }
                    }
                }
            }
            #expect(try store.replaceDataKeys(batch, rows: 1..<3) == [true, true])
            #expect(try store.get(StoreConformanceTests.key("a", "u1"))?.keyVersion == 1)
            #expect(try store.get(StoreConformanceTests.key("a", "u2"))?.wrappedKey == Self.wrapped(9))
            #expect(try store.get(StoreConformanceTests.key("b", "u3"))?.keyVersion == 2)
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
            #expect(try store.keyVersionCounts(tenant: "b") == [2: 1])
        }
    }

    @Test(arguments: StoreBackend.all)
    func rewrapOfDataKeysAppliesOnlyWhereTheWrappedKeyIsStillTheOneRead(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.envelope("a", "u1", marker: 1))
            try store.put(Self.envelope("a", "u2", marker: 2))
            let rows = try dataKeys(store)
            // Meanwhile u2 is refreshed: a new token under a new data key, same version.
            try store.put(Self.envelope("a", "u2", marker: 7))
            let updates = ["u1", "u2"].map { user in
                let row = rows[user]!
                return DataKeyUpdate(
                    id: row.id, tenant: "a", expectedKeyVersion: 1, expectedWrappedKey: row.wrappedKey,
                    newKeyVersion: 2, wrappedKey: Self.wrapped(9))
            }
            #expect(try store.replaceDataKeys(updates) == [true, false])
            #expect(try store.get(StoreConformanceTests.key("a", "u1"))?.wrappedKey == Self.wrapped(9))
            #expect(try store.get(StoreConformanceTests.key("a", "u1"))?.keyVersion == 2)
            #expect(try store.get(StoreConformanceTests.key("a", "u2"))?.wrappedKey == Self.wrapped(7))
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 1])
            // The token itself is untouched by a rewrap.
            #expect(try store.get(StoreConformanceTests.key("a", "u1"))?.sealedToken == [1, 2, 3])
        }
    }

    @Test(arguments: StoreBackend.all)
    func droppingDeletingOrShreddingAnEnvelopeRowTakesItsDataKeyAndCount(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            for user in ["u1", "u2", "u3"] { try store.put(Self.envelope("a", user)) }
            try store.put(Self.envelope("b", "u1"))
            #expect(try store.dropRefreshToken(StoreConformanceTests.key("a", "u1"), now: Self.t0))
            let dropped = try #require(try store.get(StoreConformanceTests.key("a", "u1")))
            #expect(dropped.sealedToken == nil && dropped.wrappedKey == nil)
            #expect(try store.delete(StoreConformanceTests.key("a", "u2")))
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1])
            #expect(try store.deleteTenant("b") == 1)
            #expect(try store.keyVersionCounts(tenant: "b").isEmpty)
            #expect(Set(try dataKeys(store).keys) == ["u3"])
        }
    }

    @Test(arguments: StoreBackend.all)
    func refreshCommitWritesTheNewWrappedKeyAndNeverMovesAnEnvelopeRowBack(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.envelope("a", "u1", version: 2, marker: 1))
            let key = StoreConformanceTests.key("a", "u1")
            #expect(try store.acquireLease(key, owner: "job", until: Self.t0.addingTimeInterval(60), now: Self.t0))
            // Sealed under version 1 (read before a rotation added 2 and rewrapped the row): refused.
            #expect(
                !(try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 1, sealedToken: [5], wrappedKey: Self.wrapped(5),
                    refreshedAt: Self.t0, expiresAt: nil)))
            #expect(
                try store.commitRefreshed(
                    key, owner: "job", secretName: "a", keyVersion: 2, sealedToken: [6], wrappedKey: Self.wrapped(6),
                    refreshedAt: Self.t0, expiresAt: nil))
            let row = try #require(try store.get(key))
            #expect(row.sealedToken == [6] && row.wrappedKey == Self.wrapped(6) && row.keyVersion == 2)
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 1])
            // The compare-and-set commit after a lost lease moves the data key with the token too.
            #expect(
                try store.commitRefreshed(
                    key, replacing: [6], owner: "other", secretName: "a", keyVersion: 3, sealedToken: [7],
                    wrappedKey: Self.wrapped(7), refreshedAt: Self.t0, expiresAt: nil))
            #expect(try store.get(key)?.wrappedKey == Self.wrapped(7))
            #expect(try store.keyVersionCounts(tenant: "a") == [3: 1])
        }
    }

    @Test(arguments: StoreBackend.all)
    func oldFormatRowsAreCountedAndMigratedWithCompareAndSet(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            // Rows as a tokenkeeper before envelope encryption wrote them: no wrapped key.
            try store.put(StoreConformanceTests.token("a", "u1", version: 1, sealed: [1]))
            try store.put(StoreConformanceTests.token("a", "u2", version: 2, sealed: [2]))
            try store.put(StoreConformanceTests.token("a", "u3", version: 1, sealed: nil))
            try store.put(Self.envelope("a", "u4", version: 2))
            #expect(try store.oldFormatCounts() == ["a": 2])
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1, 2: 2])
            let old = try store.oldFormatRows(tenant: "a", afterID: 0, limit: 10)
            #expect(old.map(\.key.user) == ["u1", "u2"])
            #expect(old.allSatisfy { $0.wrappedKey == nil })
            // u2 is refreshed meanwhile (into the envelope format): its migration must not apply.
            try store.put(Self.envelope("a", "u2", version: 2, marker: 8))
            let updates = old.map {
                SealedTokenUpdate(
                    id: $0.id, tenant: "a", expectedKeyVersion: $0.keyVersion, newKeyVersion: 2, sealedToken: [9],
                    wrappedKey: Self.wrapped(9))
            }
            #expect(try store.replaceSealedTokens(updates, now: Self.t0) == 1)
            let migrated = try #require(try store.get(StoreConformanceTests.key("a", "u1")))
            #expect(migrated.sealedToken == [9] && migrated.wrappedKey == Self.wrapped(9) && migrated.keyVersion == 2)
            #expect(try store.get(StoreConformanceTests.key("a", "u2"))?.wrappedKey == Self.wrapped(8))
            #expect(try store.oldFormatCounts().isEmpty)
            #expect(try store.keyVersionCounts(tenant: "a") == [2: 3])
        }
    }

    @Test(arguments: StoreBackend.all)
    func resealOfAnEnvelopeRowAppliesOnlyWhileItHoldsTheWrappedKeyRead(_ backend: StoreBackend) throws {
        try withStore(backend) { store in
            try store.put(Self.envelope("a", "u1", version: 1, marker: 1))
            let row = try #require(try store.get(StoreConformanceTests.key("a", "u1")))
            let stale = SealedTokenUpdate(
                id: row.id, tenant: "a", expectedKeyVersion: 1, expectedWrappedKey: Self.wrapped(4), newKeyVersion: 1,
                sealedToken: [9], wrappedKey: Self.wrapped(9))
            #expect(try store.replaceSealedTokens([stale], now: Self.t0) == 0)
            var current = stale
            current.expectedWrappedKey = Self.wrapped(1)
            #expect(try store.replaceSealedTokens([current], now: Self.t0) == 1)
            let resealed = try #require(try store.get(StoreConformanceTests.key("a", "u1")))
            #expect(resealed.sealedToken == [9] && resealed.wrappedKey == Self.wrapped(9))
            #expect(try store.keyVersionCounts(tenant: "a") == [1: 1])
        }
    }
}

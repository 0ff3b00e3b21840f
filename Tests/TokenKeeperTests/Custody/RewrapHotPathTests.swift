import Foundation
import Testing

@testable import Crypto
@testable import Custody
@testable import Store

/// The pieces of the rotation's allocation-free walk: the data key binding written from raw bytes, the
/// tenant table that finds a row's tenant by its bytes, the flat batch, and nonces drawn in blocks.
@Suite struct RewrapHotPathTests {
    /// Each field as the format lays it out: 4 bytes of length, big endian, then the bytes.
    private static func field(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        let count = UInt32(bytes.count)
        return [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
            + bytes
    }

    @Test func dataKeyBindingFromBytesIsTheFormatStoredKeysWereWrappedWith() {
        let key = TokenKey(tenant: "contoso", user: "alice@contoso", provider: "entra")
        let expected = ["tokenkeeper.dek.v1", "contoso", "alice@contoso", "entra", "contoso", "12"].flatMap(Self.field)
        var fromStrings: [UInt8] = []
        TokenBinding.dataKey(for: key, secret: "contoso", keyVersion: 12, into: &fromStrings)
        #expect(fromStrings == expected)
        var fromBytes: [UInt8] = []
        Array("contoso".utf8).withUnsafeBytes { tenant in
            Array("alice@contoso".utf8).withUnsafeBytes { user in
                Array("entra".utf8).withUnsafeBytes { provider in
                    TokenBinding.dataKeyRow(
                        tenant: tenant, user: user, provider: provider, secret: tenant, into: &fromBytes)
                }
            }
        }
        TokenBinding.appendDataKeyVersion(12, to: &fromBytes)
        #expect(fromBytes == expected)
    }

    @Test func tenantTableFindsEveryTenantByItsBytesAndNothingElse() {
        var table = RewrapTenantTable(names: ["a", "ab", "b", "", "tenant-ü"])
        for (number, name) in table.names.enumerated() {
            #expect(Array(name.utf8).withUnsafeBytes { table.number(of: $0) } == number)
        }
        // Asked again out of order (the last one found is tried first, and must not answer for another).
        for (number, name) in table.names.enumerated().reversed() {
            #expect(Array(name.utf8).withUnsafeBytes { table.number(of: $0) } == number)
        }
        for stranger in ["abc", "A", "tenant-u", "ba"] {
            #expect(Array(stranger.utf8).withUnsafeBytes { table.number(of: $0) } == nil)
        }
    }

    @Test func aRowWhoseNewKeyFailsToSealLeavesTheBatchAsItWas() throws {
        var batch = DataKeyRewrapBatch(tenants: ["a"])
        let expected = [UInt8](repeating: 1, count: DataKeyRewrapBatch.wrappedKeyByteCount)
        try expected.withUnsafeBytes { old in
            try batch.append(id: 1, tenant: 0, expectedVersion: 1, newVersion: 2, expectedKey: old) {
                $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: old[...]))
            }
            struct SealFailed: Error {}
            #expect(throws: SealFailed.self) {
                try batch.append(id: 2, tenant: 0, expectedVersion: 1, newVersion: 2, expectedKey: old) { _ in
                    throw SealFailed()
                }
            }
            #expect(throws: DataKeyRewrapBatch.WrongSize(count: 59)) {
                try batch.append(
                    id: 3, tenant: 0, expectedVersion: 1, newVersion: 2,
                    expectedKey: UnsafeRawBufferPointer(rebasing: old[0..<59])
                ) { _ in }
            }
        }
        #expect(batch.count == 1)
        #expect(batch.ids == [1])
        #expect(batch.newKeys.count == DataKeyRewrapBatch.wrappedKeyByteCount)
        #expect(batch.expectedKeys.count == DataKeyRewrapBatch.wrappedKeyByteCount)
    }

    @Test func nonceStreamNeverHandsOutTheSameBytesTwiceAcrossBlocks() throws {
        // Blocks of two nonces, so 500 nonces take 250 blocks.
        let stream = NonceStream(blockSize: 2 * AESGCM.nonceByteCount)
        var seen = Set<[UInt8]>()
        var nonce = [UInt8](repeating: 0, count: AESGCM.nonceByteCount)
        for _ in 0..<500 {
            try nonce.withUnsafeMutableBytes { try stream.next(into: $0) }
            seen.insert(nonce)
        }
        #expect(seen.count == 500)
    }

    @Test func sealsWithNoncesFromAStreamOpenAndDifferEachTime() throws {
        let context = try AESGCMContext(key: try SymmetricKey.random())
        let stream = NonceStream()
        let plaintext = [UInt8](repeating: 7, count: 32), aad = Array("binding".utf8)
        var sealed: [[UInt8]] = []
        for _ in 0..<3 {
            var output = [UInt8](repeating: 0, count: AESGCMContext.sealedCount(plaintextCount: plaintext.count))
            try plaintext.withUnsafeBytes { plain in
                try aad.withUnsafeBytes { aad in
                    try output.withUnsafeMutableBytes {
                        try context.seal(plain, associatedData: aad, into: $0, nonces: stream)
                    }
                }
            }
            sealed.append(output)
            #expect(
                try output.withUnsafeBytes { box in
                    try aad.withUnsafeBytes { try context.open(box, associatedData: $0) }
                } == plaintext)
        }
        #expect(Set(sealed.map { Array($0.prefix(AESGCM.nonceByteCount)) }).count == 3)
    }
}

import Foundation
import Testing

@testable import Crypto

/// One ``DataKeySealer`` per thread seals token after token, each under a fresh key of its own, with its
/// OpenSSL state reused: what it gives is exactly what the one-off functions give.
@Suite struct DataKeySealerTests {
    let aad = Array("tenant|user".utf8)

    @Test func eachFreshKeyIsNewAndItsNoncesDiffer() throws {
        let sealer = try DataKeySealer()
        let first = try sealer.freshKey()
        let second = try sealer.freshKey()
        #expect(first.key != second.key)
        #expect(first.sealNonce.count == 12 && first.wrapNonce.count == 12)
        #expect(first.sealNonce != first.wrapNonce && first.sealNonce != second.sealNonce)
    }

    @Test func oneSealerSealsUnderManyKeysAndEachOpensWithItsOwnKeyOnly() throws {
        let sealer = try DataKeySealer()
        var sealed: [(key: SymmetricKey, box: [UInt8], text: [UInt8])] = []
        for length in [0, 1, 16, 1_200] {
            let fresh = try sealer.freshKey()
            let text = [UInt8](repeating: UInt8(length % 251), count: length)
            let box = try text.withUnsafeBytes { t in
                try aad.withUnsafeBytes {
                    try sealer.seal(t, key: fresh.key, nonce: fresh.sealNonce, associatedData: $0)
                }
            }
            #expect(Array(box.prefix(12)) == fresh.sealNonce)
            sealed.append((fresh.key, box, text))
        }
        for (index, item) in sealed.enumerated() {
            let opened = try item.box.withUnsafeBytes { s in
                try aad.withUnsafeBytes { try AESGCMContext(key: item.key).open(s, associatedData: $0) }
            }
            #expect(opened == item.text)
            let other = sealed[(index + 1) % sealed.count].key
            #expect(throws: CryptoError.authenticationFailed) {
                try item.box.withUnsafeBytes { s in
                    try aad.withUnsafeBytes { try AESGCMContext(key: other).open(s, associatedData: $0) }
                }
            }
        }
    }

    @Test func itsHMACIsHMACSHA256UnderEachKey() throws {
        let sealer = try DataKeySealer()
        for _ in 0..<3 {
            let key = try SymmetricKey.random()
            let data = try SecureRandom.bytes(29)
            #expect(try sealer.hmacSHA256(key: key, data: data) == HMAC.sha256(key: key, data: data))
        }
        // A known answer (Python's hmac module) for a key of 32 bytes of 0x0b and "Hi There".
        let key = try SymmetricKey(bytes: [UInt8](repeating: 0x0b, count: 32))
        let known = try sealer.hmacSHA256(key: key, data: Array("Hi There".utf8))
        #expect(
            known.map { String(format: "%02x", $0) }.joined()
                == "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7")
    }
}

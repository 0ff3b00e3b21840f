import Foundation
import Testing

@testable import Crypto
@testable import Report

@Suite struct AESGCMTests {
    let plaintext = Array("a refresh token".utf8)
    let aad = Array("tenant|user".utf8)

    @Test func sealThenOpenRoundTrips() throws {
        let key = try SymmetricKey.random()
        let box = try AESGCM.seal(plaintext, key: key, associatedData: aad)
        #expect(try AESGCM.open(box, key: key, associatedData: aad) == plaintext)
    }

    @Test func everySealUsesAFreshNonce() throws {
        let key = try SymmetricKey.random()
        let first = try AESGCM.seal(plaintext, key: key, associatedData: aad)
        let second = try AESGCM.seal(plaintext, key: key, associatedData: aad)
        #expect(first.nonce != second.nonce)
        #expect(first.ciphertext != second.ciphertext)
    }

    @Test func anyFlippedByteFailsWithAuthenticationError() throws {
        let key = try SymmetricKey.random()
        let combined = try AESGCM.sealCombined(plaintext, key: key, associatedData: aad)
        for index in combined.indices {  // nonce, ciphertext and tag bytes alike
            var tampered = combined
            tampered[index] ^= 0x01
            #expect(throws: CryptoError.authenticationFailed) {
                try AESGCM.open(combined: tampered, key: key, associatedData: aad)
            }
        }
    }

    @Test func otherAssociatedDataFails() throws {
        let key = try SymmetricKey.random()
        let box = try AESGCM.seal(plaintext, key: key, associatedData: aad)
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(box, key: key, associatedData: Array("tenant|other".utf8))
        }
    }

    @Test func wrongKeyFails() throws {
        let box = try AESGCM.seal(plaintext, key: SymmetricKey.random(), associatedData: aad)
        #expect(throws: CryptoError.authenticationFailed) {
            try AESGCM.open(box, key: SymmetricKey.random(), associatedData: aad)
        }
    }

    @Test func truncatedValueIsRefusedWithoutCrashing() throws {
        let key = try SymmetricKey.random()
        #expect(throws: CryptoError.malformedSealedBox(27)) {
            try AESGCM.open(combined: [UInt8](repeating: 0, count: 27), key: key)
        }
    }

    @Test func keysOfTheWrongSizeAreRefused() {
        #expect(throws: CryptoError.wrongKeySize(16)) { try SymmetricKey(bytes: [UInt8](repeating: 1, count: 16)) }
    }

    @Test func oneContextSealsAndOpensManyValues() throws {
        let context = try AESGCMContext(key: SymmetricKey.random())
        for length in [0, 1, 15, 16, 17, 1_200] {
            let text = [UInt8](repeating: 0x41, count: length)
            let sealed = try text.withUnsafeBytes { t in
                try aad.withUnsafeBytes { try context.seal(t, associatedData: $0) }
            }
            let opened = try sealed.withUnsafeBytes { s in
                try aad.withUnsafeBytes { try context.open(s, associatedData: $0) }
            }
            #expect(opened == text)
        }
    }

    @Test func pythonCryptographyOpensWhatSwiftSealsAndViceVersa() throws {
        let keyBytes = try SecureRandom.bytes(32)
        let key = try SymmetricKey(bytes: keyBytes)
        let sealed = try AESGCM.sealCombined(plaintext, key: key, associatedData: aad)
        let script = """
            import sys
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            key, sealed, aad = (bytes.fromhex(a) for a in sys.argv[1:4])
            print(AESGCM(key).decrypt(sealed[:12], sealed[12:], aad).hex())
            nonce = bytes(12)
            print((nonce + AESGCM(key).encrypt(nonce, b"from python", aad)).hex())
            """
        let result = try runPython(["-c", script, Hex.encode(keyBytes), Hex.encode(sealed), Hex.encode(aad)])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 2)
        #expect(lines[0] == Hex.encode(plaintext))
        #expect(
            try AESGCM.open(combined: Hex.decode(lines[1])!, key: key, associatedData: aad) == Array("from python".utf8)
        )
    }
}

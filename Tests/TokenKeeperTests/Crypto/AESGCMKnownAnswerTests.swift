import Testing

@testable import Crypto
@testable import Report

/// Known-answer tests from McGrew and Viega, "The Galois/Counter Mode of Operation (GCM)", the test
/// cases NIST SP 800-38D refers to: cases 13-16 are AES-256 with a 96-bit IV.
@Suite struct AESGCMKnownAnswerTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String, key: String, plaintext: String, iv: String, aad: String, ciphertext: String, tag: String
        var testDescription: String { name }
    }

    static let k15 = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308"
    static let p15 =
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
    static let c15 =
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad"

    static let vectors: [Vector] = [
        Vector(
            name: "case 13: empty plaintext", key: String(repeating: "00", count: 32), plaintext: "",
            iv: "000000000000000000000000",
            aad: "", ciphertext: "", tag: "530f8afbc74536b9a963b4f1c4cb738b"),
        Vector(
            name: "case 14: one zero block", key: String(repeating: "00", count: 32),
            plaintext: String(repeating: "00", count: 16),
            iv: "000000000000000000000000", aad: "", ciphertext: "cea7403d4d606b6e074ec5d3baf39d18",
            tag: "d0d1c8a799996bf0265b98b5d48ab919"),
        Vector(
            name: "case 15: four blocks", key: k15, plaintext: p15, iv: "cafebabefacedbaddecaf888", aad: "",
            ciphertext: c15,
            tag: "b094dac5d93471bdec1a502270e3cc6c"),
        Vector(
            name: "case 16: partial block with associated data", key: k15, plaintext: String(p15.dropLast(8)),
            iv: "cafebabefacedbaddecaf888",
            aad: "feedfacedeadbeeffeedfacedeadbeefabaddad2", ciphertext: String(c15.dropLast(8)),
            tag: "76fc6ece0f4e1768cddf8853bb2d551b"),
    ]

    @Test(arguments: vectors) func sealMatchesThePublishedCiphertextAndTag(_ vector: Vector) throws {
        let key = try SymmetricKey(bytes: Hex.decode(vector.key)!)
        let box = try AESGCM.seal(
            Hex.decode(vector.plaintext)!, key: key, associatedData: Hex.decode(vector.aad)!,
            nonce: Hex.decode(vector.iv)!)
        #expect(Hex.encode(box.ciphertext) == vector.ciphertext)
        #expect(Hex.encode(box.tag) == vector.tag)
    }

    @Test(arguments: vectors) func openRecoversThePublishedPlaintext(_ vector: Vector) throws {
        let key = try SymmetricKey(bytes: Hex.decode(vector.key)!)
        let box = try SealedBox(
            nonce: Hex.decode(vector.iv)!, ciphertext: Hex.decode(vector.ciphertext)!, tag: Hex.decode(vector.tag)!)
        #expect(Hex.encode(try AESGCM.open(box, key: key, associatedData: Hex.decode(vector.aad)!)) == vector.plaintext)
    }
}

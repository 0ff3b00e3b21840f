import Foundation
import Testing

@testable import Crypto
@testable import Report

/// RFC 5869 appendix A, test cases 1-3 (HKDF-SHA256).
@Suite struct HKDFTests {
    @Test func rfc5869TestCase1() throws {
        let okm = try HKDF.sha256(
            inputKey: [UInt8](repeating: 0x0b, count: 22), salt: Hex.decode("000102030405060708090a0b0c")!,
            info: Hex.decode("f0f1f2f3f4f5f6f7f8f9")!, outputByteCount: 42)
        #expect(
            Hex.encode(okm) == "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    }

    @Test func rfc5869TestCase2LongInputs() throws {
        let okm = try HKDF.sha256(
            inputKey: Array(0x00...0x4f), salt: Array(0x60...0xaf), info: Array(0xb0...0xff), outputByteCount: 82)
        #expect(
            Hex.encode(okm)
                == "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"
        )
    }

    @Test func rfc5869TestCase3EmptySaltAndInfo() throws {
        let okm = try HKDF.sha256(
            inputKey: [UInt8](repeating: 0x0b, count: 22), salt: [], info: [], outputByteCount: 42)
        #expect(
            Hex.encode(okm) == "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")
    }
}

@Suite struct DigestAndRandomTests {
    @Test func sha256OfAbcMatchesFIPS180() {
        #expect(
            SHA256.hexDigest(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }

    @Test func randomBytesDiffer() throws {
        #expect(try SecureRandom.bytes(32) != SecureRandom.bytes(32))
    }

    @Test func keysCompareByValue() throws {
        let bytes = try SecureRandom.bytes(32)
        #expect(try SymmetricKey(bytes: bytes) == SymmetricKey(bytes: bytes))
        #expect(try SymmetricKey(bytes: bytes) != SymmetricKey.random())
    }
}

/// HMAC-SHA256 checked against Python's hmac module (tokenkeeper only makes 32-byte HMAC keys).
@Suite struct HMACTests {
    @Test func hmacMatchesPythonsHmacModule() throws {
        let keyBytes = try SecureRandom.bytes(32)
        let data = Array("what do ya want for nothing?".utf8)
        let mac = try HMAC.sha256(key: SymmetricKey(bytes: keyBytes), data: data)
        let result = try runPython([
            "-c",
            "import hmac,hashlib,sys; print(hmac.new(bytes.fromhex(sys.argv[1]), sys.argv[2].encode(), hashlib.sha256).hexdigest())",
            Hex.encode(keyBytes), "what do ya want for nothing?",
        ])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == Hex.encode(mac))
    }

    @Test func macsCompareInConstantTimeAndDetectChanges() throws {
        let key = try SymmetricKey.random()
        let a = try HMAC.sha256(key: key, data: [1, 2, 3])
        #expect(HMAC.equal(a, try HMAC.sha256(key: key, data: [1, 2, 3])))
        #expect(!HMAC.equal(a, try HMAC.sha256(key: key, data: [1, 2, 4])))
    }
}

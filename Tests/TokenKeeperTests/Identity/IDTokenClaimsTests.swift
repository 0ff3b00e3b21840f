import Foundation
import Testing

@testable import Identity

/// Reading the claims of an id_token: three `.`-separated parts with a base64url JSON payload in the middle,
/// split the same way whether the token is ASCII (split byte by byte, fast) or not (split by characters).
@Suite struct IDTokenClaimsTests {
    @Test func theMiddleOfThreePartsIsThePayload() throws {
        let claims = try IDTokenClaims(decoding: JWTFixture.idToken(["tid": "t1", "oid": "u1", "sub": "s1"]))
        #expect(claims.tenantID == "t1")
        #expect(claims.userID == "u1")
    }

    @Test func twoOrFourPartsAreNotAnIdToken() throws {
        let token = JWTFixture.idToken(["tid": "t1", "oid": "u1"])
        let parts = token.split(separator: ".").map(String.init)
        #expect(throws: IDTokenError.self) { try IDTokenClaims(decoding: parts[0] + "." + parts[1]) }
        #expect(throws: IDTokenError.self) { try IDTokenClaims(decoding: token + ".more") }
        #expect(throws: IDTokenError.self) { try IDTokenClaims(decoding: parts[0] + ".." + parts[1] + "." + parts[2]) }
    }

    @Test func aDotJoinedWithACombiningMarkIsNotASeparator() throws {
        let token = JWTFixture.idToken(["tid": "t1", "oid": "u1"])
        // "." followed by U+0301 is one character, not a "."; split byte by byte it would make a third part.
        let parts = token.split(separator: ".").map(String.init)
        #expect(throws: IDTokenError.self) {
            try IDTokenClaims(decoding: parts[0] + "." + parts[1] + ".\u{301}" + parts[2])
        }
        // Outside the separators, non-ASCII text is fine where nothing reads it (the signature).
        #expect(try IDTokenClaims(decoding: parts[0] + "." + parts[1] + ".sig\u{301}").tenantID == "t1")
    }

    @Test func base64URLCharactersDecodeAndOthersAreRefused() throws {
        // Bytes that encode to "-" and "_" in base64url ("+" and "/" in base64).
        #expect(IDTokenClaims.base64URLDecode("-_8") == Data([0xFB, 0xFF]))
        #expect(IDTokenClaims.base64URLDecode("ab$c") == nil)
    }
}

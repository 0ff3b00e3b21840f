import Foundation
import Support

/// The claims tokenkeeper reads from an OpenID Connect id_token: who the tokens belong to.
///
/// tokenkeeper takes `tid` as the tenant (the vault secret name) and `oid`, or `sub` where there is no
/// `oid`, as the user, after the reference architecture (DESIGN.md). The signature is not verified here:
/// the id_token comes straight from the token endpoint over TLS, or from a file the operator imports,
/// and it is used only to name the row, never to grant access.

public struct IDTokenClaims: Sendable, Equatable {
    /// The tenant id (`tid`), absent for providers without tenants.
    public var tenantID: String?
    /// The object id (`oid`), Entra's stable user id.
    public var objectID: String?
    /// The subject (`sub`).
    public var subject: String?
    /// The issuer (`iss`).
    public var issuer: String?
    /// Expiry (`exp`), as a date.
    public var expiresAt: Date?

    /// The user id tokenkeeper stores: `oid` where present, else `sub`.
    public var userID: String? { objectID ?? subject }

    /// Creates claims from known values (mostly for tests and providers without id_tokens).
    public init(
        tenantID: String? = nil, objectID: String? = nil, subject: String? = nil, issuer: String? = nil,
        expiresAt: Date? = nil
    ) {
        self.tenantID = tenantID
        self.objectID = objectID
        self.subject = subject
        self.issuer = issuer
        self.expiresAt = expiresAt
    }

    /// Decodes the payload (second part) of a compact JWS without verifying its signature.
    /// - throws: ``IDTokenError`` when the token is not three base64url parts with a JSON object in the middle.
    public init(decoding idToken: String) throws {
        guard let encodedPayload = Self.payloadPart(of: idToken), let payload = Self.base64URLDecode(encodedPayload),
            let object = try? JSONSerialization.jsonObject(with: payload) as? [String: Any]
        else { throw IDTokenError.malformed }
        tenantID = object["tid"] as? String
        objectID = object["oid"] as? String
        subject = object["sub"] as? String
        issuer = object["iss"] as? String
        expiresAt = (object["exp"] as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue) }
    }

    /// The middle one of exactly three `.`-separated parts, or nil.
    ///
    /// An ASCII token (every real one) is split byte by byte, which for ASCII is the same as splitting by
    /// characters and several times faster (an import decodes an id_token per line); any other token is
    /// split by characters, so a `.` joined with a following combining mark still does not count.
    static func payloadPart(of idToken: String) -> Substring? {
        if idToken.utf8.allSatisfy({ $0 < 0x80 }) {
            let dots = idToken.utf8.indices.filter { idToken.utf8[$0] == UInt8(ascii: ".") }
            guard dots.count == 2 else { return nil }
            return idToken[idToken.utf8.index(after: dots[0])..<dots[1]]
        }
        let parts = idToken.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 3 ? parts[1] : nil
    }

    /// Decodes base64url without padding, as JWTs use it (RFC 7515 section 2).
    /// `-` and `_` are mapped to `+` and `/` byte by byte (Foundation's `replacingOccurrences` was most of
    /// an import's parsing time) and the padding is added; Foundation's base64 decoder then refuses
    /// whatever else is not base64, as before.
    static func base64URLDecode(_ text: some StringProtocol) -> Data? {
        let utf8 = text.utf8
        var base64 = [UInt8]()
        base64.reserveCapacity(utf8.count + 3)
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "-"): base64.append(UInt8(ascii: "+"))
            case UInt8(ascii: "_"): base64.append(UInt8(ascii: "/"))
            default: base64.append(byte)
            }
        }
        while base64.count % 4 != 0 { base64.append(UInt8(ascii: "=")) }
        return Data(base64Encoded: Data(base64))
    }
}

/// An id_token that cannot be read.
public enum IDTokenError: ActionableError {
    /// Not a compact JWT with a JSON payload.
    case malformed

    public var item: String { "id_token" }
    public var problem: String { "is not a JWT (three base64url parts with a JSON payload)" }
    public var remedy: String { "Pass the id_token exactly as the token endpoint returned it." }
    public var exitStatus: ExitStatus { .usage }
}

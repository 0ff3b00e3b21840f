import Foundation

/// Builds unsigned id_tokens (alg none) with the given claims, for import tests.
enum JWTFixture {
    static func idToken(_ claims: [String: Any]) -> String {
        func part(_ object: [String: Any]) -> String {
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return data.base64EncodedString().replacingOccurrences(of: "+", with: "-")
                .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        }
        return part(["alg": "none", "typ": "JWT"]) + "." + part(claims) + ".sig"
    }
}

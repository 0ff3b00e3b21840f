import Foundation
import Testing

@testable import Custody
@testable import Identity
@testable import Report
@testable import Store
@testable import Support

/// Invariant I6 against a provider (or a proxy in front of it) that echoes the request it refused: the
/// refresh tokens, the client secret and the On-Behalf-Of assertion tokenkeeper sent come back inside
/// `error` and `error_description`, raw and URL-encoded, with control characters. Nothing of them may
/// reach what tokenkeeper prints or the JUnit, Markdown and JSON reports it writes.
@Suite(.serialized) struct ProviderErrorLeakTests {
    /// Secrets with characters that URL-encoding changes, so the raw and the encoded forms differ.
    static let tokens = ["rt/LEAK+CANARY=0é&x%41", "rt/LEAK+CANARY=1é&x%42"]
    static let clientSecret = "cs/LEAK+CANARY=é&%20;tail"
    static let assertion = "eyJ0eXAi.LEAK+CANARY/assertion=é.c2ln"

    /// Every form of `secret` a provider might echo: raw, form-encoded (upper- and lower-case hex),
    /// Python's `quote` (which keeps `/`), and with JSON's escaped slash.
    static func forms(_ secret: String) -> [String] {
        var pythonSafe = CharacterSet.alphanumerics
        pythonSafe.insert(charactersIn: "-._~/")
        let encoded = OAuthClient.formEncode(secret)
        return [
            secret, encoded, lowercasingHex(encoded), secret.addingPercentEncoding(withAllowedCharacters: pythonSafe)!,
            secret.replacingOccurrences(of: "/", with: "\\/"),
        ]
    }

    /// `%2B` as `%2b`: percent-encoding with lower-case hex digits.
    static func lowercasingHex(_ text: String) -> String {
        var result = ""
        var hexLeft = 0
        for character in text {
            if character == "%" {
                hexLeft = 2
                result.append(character)
            } else if hexLeft > 0 {
                result += character.lowercased()
                hexLeft -= 1
            } else {
                result.append(character)
            }
        }
        return result
    }

    @Test func secretsAProviderEchoesInItsErrorNeverReachOutputOrReports() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let idp = try TestIdentityProvider()
            let custodian = try fixture.custodian()
            for (index, token) in Self.tokens.enumerated() {
                try custodian.put(
                    TokenKey(tenant: "t1", user: "u\(index)", provider: "local"), token: SecretText(token),
                    issuedAt: fixture.origin, expiresAt: nil)
            }
            try await idp.admin(
                "admin/faults", ["status": 400, "echo": true, "count": 1_000, "paths": ["/token", "/revoke"]])
            let environment = fixture.environment.merging(["IDP_CLIENT_SECRET": Self.clientSecret, "CI": "true"]) {
                _, new in new
            }
            var printed = ""
            var reports = ""
            for clientAuth in ["client_secret_post", "client_secret_basic"] {
                try Data(
                    (JobFixture.header + idp.providerYAML(clientAuth: clientAuth) + """
                        stages:
                          - name: refresh-tokens
                            kind: refresh
                            provider: local
                            concurrency: 1
                            retries: 0
                            on_failure: continue
                          - name: offboard
                            kind: revoke
                            users: [t1/u0]
                            at_provider: true
                        report:
                          junit: ./\(clientAuth)/r.xml
                          markdown: ./\(clientAuth)/r.md
                          json: ./\(clientAuth)/r.json
                        """).utf8
                ).write(to: URL(fileURLWithPath: folder + "/job.yml"))
                let run = try runTokenKeeper(["run", "job.yml"], environment: environment, workingDirectory: folder)
                #expect(run.status == 1, "\(run.stderr)")
                printed += run.output
                for file in ["r.xml", "r.md", "r.json"] {
                    reports += try String(contentsOfFile: folder + "/\(clientAuth)/" + file, encoding: .utf8)
                }
                let access = try runTokenKeeper(
                    ["token", "access", "--spec", "job.yml", "--tenant", "t1", "--user", "u1", "--provider", "local"],
                    environment: environment, workingDirectory: folder)
                #expect(access.status != 0)
                printed += access.output
                let obo = try runTokenKeeper(
                    ["token", "obo", "--spec", "job.yml", "--provider", "local"], environment: environment,
                    stdin: Self.assertion, workingDirectory: folder)
                #expect(obo.status != 0)
                printed += obo.output
            }
            let everything = printed + reports
            // the provider's refusal is reported, only without the secrets
            #expect(everything.contains("invalid_request"))
            #expect(try await idp.stats()["faults"]! >= 6)
            let basic = Data(("tokenkeeper:" + OAuthClient.formEncode(Self.clientSecret)).utf8).base64EncodedString()
            let needles = (Self.tokens + [Self.clientSecret, Self.assertion]).flatMap(Self.forms) + ["CANARY", basic]
            for needle in needles {
                #expect(!printed.contains(needle), "output leaks \(needle.debugDescription)")
                #expect(!reports.contains(needle), "a report leaks \(needle.debugDescription)")
            }
            // Control characters from the provider are stripped, not escaped into the JSON report for a reader to decode.
            #expect(
                !everything.unicodeScalars.contains("\u{1B}") && !everything.contains("\\u001b")
                    && !everything.contains("\\u001B"))
            // The provider's `error` is capped like its description: a report code is a short word, not a request body.
            let json = try JSONSerialization.jsonObject(
                with: Data(contentsOf: URL(fileURLWithPath: folder + "/client_secret_post/r.json")))
            let stages = try #require((json as? [String: Any])?["stages"] as? [[String: Any]])
            let codes = stages.flatMap { ($0["cases"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String } }
            #expect(!codes.isEmpty)
            for code in codes {
                #expect(code.count <= OAuthError.maximumErrorLength, "code \(code.count) characters long")
            }
        }
    }
}

/// The redaction of provider text, on its own.
@Suite struct ProviderTextRedactionTests {
    @Test func everyFormOfASentSecretIsRedactedAndControlCharactersStripped() {
        let secret = "s3cr3t/+=é&x"
        let redactor = SentSecrets([SecretText(secret)])
        let text =
            "raw \(secret) form \(OAuthClient.formEncode(secret)) lower \(OAuthClient.formEncode(secret).lowercased()) \u{1B}[31mcrimson\r\nnext"
        let clean = redactor.clean(text, limit: 1_000)
        #expect(!clean.contains("s3cr3t") && !clean.contains("s3cr3t".lowercased()))
        #expect(clean.contains("<redacted>"))
        #expect(!clean.unicodeScalars.contains { $0.properties.generalCategory == .control })
        #expect(clean.contains("crimson") && clean.contains("next"))
    }

    @Test func aSecretCutShortByTheProviderIsRedactedToo() {
        let secret = "rt.0123456789abcdefghijklmnopqrstuvwxyz"
        let clean = SentSecrets([SecretText(secret)]).clean(
            "the token rt.0123456789abcdefghij was refused", limit: 1_000)
        #expect(!clean.contains("0123456789abcdef"))
        #expect(clean.hasPrefix("the token ") && clean.hasSuffix(" was refused"))
    }

    @Test func textIsCappedAfterRedactionSoTheCapNeverCutsASecretInHalf() {
        let secret = String(repeating: "k", count: 40) + "/+LEAK"
        let text = String(repeating: "x", count: 280) + OAuthClient.formEncode(secret) + " tail"
        let clean = SentSecrets([SecretText(secret)]).clean(text, limit: 300)
        #expect(!clean.contains("kkkkkkkkkkkk") && !clean.contains("LEAK"))
        #expect(clean.count <= 300)
    }
}

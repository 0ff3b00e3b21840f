import Foundation
import Testing

@testable import Custody
@testable import Identity
@testable import Report
@testable import Spec
@testable import Store
@testable import Support

@Suite struct ProviderProfileTests {
    static func spec(_ kind: ProviderSpec.Kind, name: String = "p", tokenEndpoint: String? = nil, tenant: String? = nil)
        -> ProviderSpec
    {
        ProviderSpec(
            name: name, kind: kind, tokenEndpoint: tokenEndpoint.flatMap(URL.init(string:)), revocationEndpoint: nil,
            clientID: "c",
            clientSecret: nil, clientAuth: .clientSecretPost, scope: nil, tenant: tenant, authority: nil)
    }

    @Test func entraHasATokenEndpointPerTenantAndRotatesRefreshTokens() {
        let profile = ProviderProfile(Self.spec(.entra))
        #expect(
            profile.tokenEndpoint(tenant: "contoso-tid")?.absoluteString
                == "https://login.microsoftonline.com/contoso-tid/oauth2/v2.0/token")
        #expect(
            ProviderProfile(Self.spec(.entra, tenant: "organizations")).tokenEndpoint(tenant: "x")?.absoluteString
                == "https://login.microsoftonline.com/organizations/oauth2/v2.0/token")
        #expect(profile.lifecycle == .refreshable(rotates: true))
        #expect(profile.revocationEndpoint == nil)
    }

    @Test func googleKeepsTheOldRefreshTokenAndHasARevocationEndpoint() {
        let profile = ProviderProfile(Self.spec(.google))
        #expect(profile.lifecycle == .refreshable(rotates: false))
        #expect(profile.tokenEndpoint(tenant: "t")?.absoluteString == "https://oauth2.googleapis.com/token")
        #expect(profile.revocationEndpoint?.absoluteString == "https://oauth2.googleapis.com/revoke")
    }

    @Test func facebookNeedsConsentAgainAndXNeverExpires() {
        #expect(ProviderProfile(Self.spec(.facebook)).lifecycle == .reconsentBeforeExpiry(lifetime: 60 * 86_400))
        #expect(ProviderProfile(Self.spec(.x)).lifecycle == .neverExpires)
    }

    @Test func aSpecsOwnEndpointWins() {
        #expect(
            ProviderProfile(Self.spec(.entra, tokenEndpoint: "http://127.0.0.1:9/token")).tokenEndpoint(tenant: "t")?
                .absoluteString
                == "http://127.0.0.1:9/token")
    }
}

@Suite struct OAuthErrorTests {
    static func classify(_ status: Int, _ body: String, retryAfter: TimeInterval? = nil) -> OAuthError {
        OAuthError.fromResponse(
            endpoint: "https://idp/token", status: status, body: Data(body.utf8), retryAfter: retryAfter)
    }

    @Test func entraDeadTokenErrorsAreDeadTokensWithTheirCode() {
        for code in [700082, 50173, 70043] {
            let error = Self.classify(
                400,
                #"{"error":"invalid_grant","error_description":"AADSTS\#(code): expired","error_codes":[\#(code)]}"#)
            #expect(error.kind == .deadToken)
            #expect(error.reportCode == "AADSTS\(code)")
        }
        #expect(
            Self.classify(400, #"{"error":"interaction_required","error_description":"AADSTS50076: MFA"}"#).kind
                == .deadToken)
    }

    @Test func throttlingAndServerErrorsAreTransient() {
        let throttled = Self.classify(429, #"{"error":"temporarily_unavailable"}"#, retryAfter: 7)
        #expect(throttled.kind == .transient && throttled.retryAfter == 7)
        #expect(Self.classify(503, "<html>busy</html>").kind == .transient)
        #expect(Self.classify(500, "").reportCode == "http_500")
    }

    @Test func badClientCredentialsAreConfiguration() {
        #expect(Self.classify(401, #"{"error":"invalid_client"}"#).kind == .configuration)
        #expect(Self.classify(400, #"{"error":"unauthorized_client"}"#).kind == .configuration)
    }

    @Test func retryAfterReadsSecondsAndHTTPDates() {
        #expect(OAuthClient.retryAfter("3") == 3)
        #expect(OAuthClient.retryAfter("Wed, 21 Oct 2015 07:28:00 GMT") == 0)
        #expect(OAuthClient.retryAfter("soon") == nil)
    }

    @Test func formEncodingEscapesEverythingButUnreservedCharacters() {
        #expect(OAuthClient.formEncode("a b+c/=&:~") == "a%20b%2Bc%2F%3D%26%3A~")
    }

    @Test func backoffGrowsWithJitterAndHonoursRetryAfter() {
        let policy = RetryPolicy(retries: 5)  // 0.5 s doubling per attempt, ±50% jitter, at most 30 s
        #expect(policy.delay(attempt: 3, retryAfter: 2) == 2)
        #expect(policy.delay(attempt: 3, retryAfter: 300) == 30)
        var shortest: [Double] = [], longest: [Double] = []
        for attempt in 1...5 {
            let middle = 0.5 * pow(2, Double(attempt - 1))
            let delays = (0..<50).map { _ in policy.delay(attempt: attempt, retryAfter: nil) }
            #expect(delays.allSatisfy { $0 >= middle * 0.5 && $0 <= middle * 1.5 }, "attempt \(attempt): \(delays)")
            // Jitter: 50 draws spread over the ±50% band, not one value (all within a quarter of it: p < 1e-13).
            #expect(delays.max()! - delays.min()! >= middle * 0.25, "attempt \(attempt): \(delays)")
            shortest.append(delays.min()!)
            longest.append(delays.max()!)
        }
        // Grows: two attempts on, the shortest wait is longer than the longest one was.
        for attempt in 0..<3 { #expect(shortest[attempt + 2] > longest[attempt], "\(shortest) \(longest)") }
        #expect(policy.delay(attempt: 20, retryAfter: nil) == 30)
    }
}

@Suite struct NonRefreshingProvidersTests {
    @Test func facebookTokensNearingExpiryAreReportedForConsentBeforeTheirDate() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            let custodian = try fixture.custodian()
            let now = Date()
            try custodian.put(
                TokenKey(tenant: "t1", user: "soon", provider: "fb"), token: SecretText("fb-1"), issuedAt: now,
                expiresAt: now.addingTimeInterval(5 * 86_400))
            try custodian.put(
                TokenKey(tenant: "t1", user: "later", provider: "fb"), token: SecretText("fb-2"), issuedAt: now,
                expiresAt: now.addingTimeInterval(50 * 86_400))
            let spec = try fixture.spec(
                JobFixture.header + """
                    providers:
                      fb:
                        kind: facebook
                        client_id: app
                        client_secret: env:FB_SECRET
                    stages:
                      - name: facebook
                        kind: refresh
                        provider: fb
                        expiring_within: 14d
                    """)
            let stage = try #require(try await fixture.run(spec).stages.first)
            let item = try #require(stage.case("t1/soon/fb"))
            #expect(item.failureType == .reauthRequired && item.code == "reconsent_due")
            #expect(item.message.contains(DateText.day(now.addingTimeInterval(5 * 86_400))))
            #expect(stage.case("t1/later/fb") == nil)
            #expect(stage.count(.tokensUpToDate) == 1)
        }
    }

    @Test func xTokensAreUpToDate() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2, provider: "twitter")
            let spec = try fixture.spec(
                JobFixture.header + """
                    providers:
                      twitter:
                        kind: x
                        client_id: app
                    stages:
                      - name: x
                        kind: refresh
                        provider: twitter
                    """)
            let stage = try #require(try await fixture.run(spec).stages.first)
            #expect(stage.result == .passed)
            #expect(stage.case("t1")?.message == "2 tokens up to date (x tokens do not expire)")
        }
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Report
@testable import Store
@testable import Support

@Suite struct TokenImportParserTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func tokenResponseNamesTenantAndUserFromTheIdToken() throws {
        let response = """
            {"access_token":"at-1","refresh_token":"rt-secret-1","expires_in":3599,
             "id_token":"\(JWTFixture.idToken(["tid": "tenant-a", "oid": "user-1", "sub": "s1"]))"}
            """
        let result = try TokenImportParser.parse(
            Data(response.utf8), source: "in", provider: "entra", defaultTenant: nil, now: now)
        #expect(result.problems.isEmpty)
        let record = try #require(result.records.first)
        #expect(record.key == TokenKey(tenant: "tenant-a", user: "user-1", provider: "entra"))
        #expect(record.refreshToken.revealed == "rt-secret-1")
    }

    @Test func subIsTheUserWhenThereIsNoOid() throws {
        let line = #"{"refresh_token":"rt","id_token":"\#(JWTFixture.idToken(["tid": "t", "sub": "subject-9"]))"}"#
        let result = try TokenImportParser.parse(
            Data(line.utf8), source: "in", provider: "p", defaultTenant: nil, now: now)
        #expect(result.records.first?.key.user == "subject-9")
    }

    @Test func jsonLinesGiveOneRecordPerLineAndNameBadLines() throws {
        let id = JWTFixture.idToken(["tid": "t", "oid": "u"])
        let text = """
            {"refresh_token":"a","id_token":"\(id)"}

            not json
            {"access_token":"only"}
            {"refresh_token":"b","id_token":"\(JWTFixture.idToken(["tid": "t", "oid": "v"]))"}
            """
        let result = try TokenImportParser.parse(
            Data(text.utf8), source: "in", provider: "p", defaultTenant: nil, now: now)
        #expect(result.records.map(\.key.user) == ["u", "v"])
        #expect(
            result.problems == [
                ImportProblem(location: "line 3", reason: "not a JSON object", isSkip: false),
                ImportProblem(
                    location: "line 4", reason: "has no refresh_token (request the offline_access scope)", isSkip: true),
            ])
    }

    @Test func tokenResponsesWithoutAProviderAreRefused() throws {
        let error = #expect(throws: ImportError.self) {
            try TokenImportParser.parse(
                Data(#"{"refresh_token":"x"}"#.utf8), source: "in.json", provider: nil, defaultTenant: nil, now: now)
        }
        #expect(error?.description.contains("--provider") == true)
    }

    @Test func authMeArrayUsesProviderNameAndUserClaims() throws {
        let text = """
            [{"provider_name":"aad","user_id":"someone@example.com","access_token":"at","refresh_token":"rt-aad",
              "expires_on":"2026-11-22T10:00:00Z","id_token":"",
              "user_claims":[{"typ":"http://schemas.microsoft.com/identity/claims/tenantid","val":"tenant-x"},
                             {"typ":"http://schemas.microsoft.com/identity/claims/objectidentifier","val":"oid-7"}]},
             {"provider_name":"google","user_id":"g@example.com","access_token":"at2"}]
            """
        let result = try TokenImportParser.parse(
            Data(text.utf8), source: "me.json", provider: nil, defaultTenant: nil, now: now)
        #expect(result.records.map(\.key) == [TokenKey(tenant: "tenant-x", user: "oid-7", provider: "aad")])
        #expect(result.problems.count == 1)
        #expect(result.problems.first?.isSkip == true)
    }

    @Test func authMeEntryWithoutTenantUsesTheDefaultTenant() throws {
        let text = #"[{"provider_name":"google","user_id":"g-123","refresh_token":"rt-g"}]"#
        let result = try TokenImportParser.parse(
            Data(text.utf8), source: "me.json", provider: nil, defaultTenant: "consumers", now: now)
        #expect(result.records.first?.key == TokenKey(tenant: "consumers", user: "g-123", provider: "google"))
    }

    @Test func problemsNeverContainTheTokenValue() throws {
        let text = #"{"refresh_token":"rt-very-secret","id_token":"not-a-jwt"}"#
        let result = try TokenImportParser.parse(
            Data(text.utf8), source: "in", provider: "p", defaultTenant: nil, now: now)
        #expect(result.records.isEmpty)
        #expect(!result.problems.map(\.reason).joined().contains("rt-very-secret"))
    }
}

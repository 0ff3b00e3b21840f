import Foundation
import Testing

@testable import Report
@testable import Spec
@testable import Stages
@testable import Store

/// Which failures stop the refresh stage and which fail only one tenant or one token, against the real
/// identity provider: one customer's tenant that removed the app must not leave every other tenant's
/// tokens to age, and the report says whether the stage stopped or only the tenant failed.
@Suite(.serialized) struct RefreshFailureScopeTests {
    /// A spec over `world` with one worker, so rows are redeemed in the order they were stored.
    static func spec(_ world: RefreshStageTests.World, provider: String? = nil) throws -> JobSpec {
        try world.fixture.spec(
            JobFixture.header + (provider ?? world.idp.providerYAML()) + """
                stages:
                  - name: refresh-tokens
                    kind: refresh
                    provider: local
                    concurrency: 1
                    retries: 0
                    request_timeout: 5s
                """)
    }

    /// Entra's per-tenant token endpoint (`{authority}/{tenant}/oauth2/v2.0/token`) on the local provider.
    static func entraPerTenant(_ world: RefreshStageTests.World) -> String {
        """
        providers:
          local:
            kind: entra
            authority: \(world.idp.baseURL.absoluteString)
            client_id: tokenkeeper
            client_secret: env:IDP_CLIENT_SECRET
            scope: offline_access

        """
    }

    static var appRemoved: [String: Any] {
        [
            "status": 400, "error": "unauthorized_client", "error_codes": [700016], "count": 1_000,
            "error_description":
                "AADSTS700016: Application with identifier 'tokenkeeper' was not found in the directory 't2'.",
        ]
    }

    func keys(_ world: RefreshStageTests.World, tenant: String) -> [TokenKey] {
        world.tokens.keys.filter { $0.tenant == tenant }.sorted()
    }

    @Test func anAppRemovedFromOneTenantFailsThatTenantAndEveryOtherTenantIsRefreshed() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 3, tenants: ["t1", "t2", "t3"])
            try await world.idp.admin("admin/faults", Self.appRemoved.merging(["tenant": "t2"]) { _, new in new })
            let stage = try await world.run(try Self.spec(world))
            #expect(stage.count(.tokensRefreshed) == 6, "\(stage.cases)")
            #expect(stage.case("t1")?.status == .passed && stage.case("t3")?.status == .passed)
            let refused = try #require(stage.case("t2"))
            #expect(
                refused.status == .failed && refused.failureType == .configuration && refused.code == "AADSTS700016")
            #expect(refused.message.contains("only this tenant failed"), "\(refused.message)")
            #expect(!stage.cases.contains { $0.status == .errored })
            #expect(!stage.summary.hasPrefix("stopped"))
            #expect(stage.summary.contains("1 tenant refused"), "\(stage.summary)")
            // One request told the tenant's story; its other tokens were not sent, and none of them was harmed.
            #expect(try await world.idp.stats()["faults"] == 1)
            #expect(stage.count(.tokensNotTried) == 2)
            for key in keys(world, tenant: "t2") {
                #expect(try world.row(key).status == .active)
                #expect(try world.stored(key) == world.tokens[key])
            }
        }
    }

    @Test func anUnlistedErrorForOneTokenFailsOnlyThatToken() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 3, tenants: ["t1", "t2"])
            try await world.idp.admin(
                "admin/faults",
                [
                    "status": 400, "error": "invalid_request", "error_description": "AADSTS9002313: Invalid request.",
                    "tenant": "t1", "user": "u0",
                    "count": 1_000,
                ])
            let stage = try await world.run(try Self.spec(world))
            #expect(stage.count(.tokensRefreshed) == 5, "\(stage.cases)")
            let item = try #require(stage.case("t1/u0/local"))
            #expect(item.status == .failed && item.code == "AADSTS9002313")
            #expect(!stage.summary.hasPrefix("stopped"))
            #expect(try world.row(TokenKey(tenant: "t1", user: "u0", provider: "local")).status == .active)
        }
    }

    @Test func aBadClientSecretAtATenantIndependentEndpointStopsTheStageAndTheReportSaysSo() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 2, tenants: ["t1", "t2", "t3"])
            let stage = try await world.run(try Self.spec(world), environment: ["IDP_CLIENT_SECRET": "wrong"])
            #expect(try await world.idp.stats()["token_requests"] == 1)
            let stop = try #require(stage.cases.first { $0.status == .errored })
            #expect(stop.failureType == .configuration && stop.message.contains("invalid_client"))
            #expect(stop.message.contains("the stage stopped"), "\(stop.message)")
            #expect(stage.summary.hasPrefix("stopped: "))
        }
    }

    @Test func theSameRefusalInEveryTenantStopsTheStageAfterAFewTenants() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(
                folder, users: 2, tenants: ["t1", "t2", "t3", "t4", "t5", "t6"])
            try await world.idp.admin("admin/faults", Self.appRemoved)
            let stage = try await world.run(try Self.spec(world))
            #expect(try await world.idp.stats()["token_requests"] == RefreshBreaker.tenantsBeforeStop)
            let stop = try #require(stage.cases.first { $0.status == .errored })
            #expect(stop.message.contains("the stage stopped"), "\(stop.message)")
            #expect(stop.message.contains("every tenant"), "\(stop.message)")
            #expect(
                !stage.cases.contains { $0.message.contains("only this tenant failed") },
                "a tenant case says the stage went on")
            #expect(stage.summary.hasPrefix("stopped: "))
            for key in world.tokens.keys { #expect(try world.row(key).status == .active) }
        }
    }

    @Test func aClientRefusedAtOneTenantsOwnEndpointFailsOnlyThatTenant() async throws {
        try await withTemporaryDirectory { folder in
            let world = try await RefreshStageTests.World(folder, users: 2, tenants: ["t1", "t2", "t3"])
            try await world.idp.admin(
                "admin/faults",
                [
                    "status": 401, "error": "invalid_client", "error_codes": [7000215], "tenant": "t2", "count": 1_000,
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                ])
            let stage = try await world.run(try Self.spec(world, provider: Self.entraPerTenant(world)))
            #expect(stage.count(.tokensRefreshed) == 4, "\(stage.cases)")
            let refused = try #require(stage.case("t2"))
            #expect(refused.status == .failed && refused.message.contains("only this tenant failed"))
            #expect(!stage.summary.hasPrefix("stopped"))
        }
    }
}

import Testing

@testable import Report
@testable import Spec
@testable import Stages
@testable import Vault

@Suite struct RevokePlannerTests {
    @Test func deleteRecordTakesEveryRowOfTheUser() {
        let state = UserRowsState(tenant: "t", user: "u", rows: [("google", false), ("entra", true)])
        #expect(RevokePlanner.plan(state, mode: .deleteRecord).providers == ["entra", "google"])
    }

    @Test func dropRefreshTokenSkipsRowsAlreadyWithoutAToken() {
        let state = UserRowsState(tenant: "t", user: "u", rows: [("google", false), ("entra", true)])
        #expect(RevokePlanner.plan(state, mode: .dropRefreshToken).providers == ["entra"])
    }

    @Test func userWithNothingLeftIsAlreadyRevoked() {
        #expect(
            RevokePlanner.plan(UserRowsState(tenant: "t", user: "u", rows: []), mode: .deleteRecord).isAlreadyRevoked)
    }

    @Test func liveTenantIsShreddedAndItsRowsDeleted() {
        let plan = RevokePlanner.plan(TenantSecretState(tenant: "t", secret: .active, rows: 3), purge: false)
        #expect(plan.softDeletesSecret && plan.rowsToDelete == 3 && !plan.purgesSecret)
    }

    @Test func softDeletedTenantIsPurgedOnlyWhenAsked() {
        let state = TenantSecretState(tenant: "t", secret: .softDeleted, rows: 0)
        #expect(RevokePlanner.plan(state, purge: false).isAlreadyRevoked)
        #expect(RevokePlanner.plan(state, purge: true).purgesSecret)
    }

    @Test func purgedTenantIsAlreadyRevoked() {
        #expect(
            RevokePlanner.plan(TenantSecretState(tenant: "t", secret: .absent, rows: 0), purge: true).isAlreadyRevoked)
    }
}

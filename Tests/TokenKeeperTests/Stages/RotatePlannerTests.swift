import Foundation
import Testing

@testable import Report
@testable import Stages

@Suite struct RotatePlannerTests {
    let now = Date(timeIntervalSince1970: 2_000_000_000)
    let day: TimeInterval = 86_400

    private func state(_ versions: [(Int, Double, Bool)], rows: [Int: Int]) -> TenantKeyState {
        TenantKeyState(
            tenant: "t",
            versions: versions.map {
                KeyVersionState(number: $0.0, createdAt: now.addingTimeInterval(-$0.1 * day), enabled: $0.2)
            }, rowsByVersion: rows)
    }

    @Test func freshKeyWithAllRowsOnItIsUpToDate() {
        let plan = RotatePlanner.plan(
            state([(1, 40, false), (2, 5, true)], rows: [2: 10]), maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(plan.isUpToDate)
        #expect(plan.summary == "up to date (key version 2)")
    }

    @Test func oldKeyGetsANewVersionAndEveryRowIsRewrapped() {
        let plan = RotatePlanner.plan(
            state([(1, 31, true)], rows: [1: 7]), maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(plan.addsVersion)
        #expect(plan.targetVersion == 2)
        #expect(plan.rowsToRewrap == 7)
        #expect(plan.versionsToPurge.isEmpty)  // version 1 is the one kept
    }

    @Test func versionsBeyondKeepVersionsAreDisabledThenPurged() {
        let plan = RotatePlanner.plan(
            state([(1, 90, false), (2, 60, true), (3, 31, true)], rows: [2: 1, 3: 4]),
            maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(plan.targetVersion == 4)
        #expect(plan.rowsToRewrap == 5)
        #expect(plan.versionsToDisable == [2])
        #expect(plan.versionsToPurge == [1, 2])
    }

    @Test func keepVersionsZeroPurgesEveryOlderVersion() {
        let plan = RotatePlanner.plan(
            state([(1, 10, true), (2, 1, true)], rows: [2: 3]), maxKeyAge: 30 * day, keepVersions: 0, now: now)
        #expect(!plan.addsVersion)
        #expect(plan.versionsToDisable == [1])
        #expect(plan.versionsToPurge == [1])
    }

    @Test func tenantWithoutASecretGetsVersionOne() {
        let plan = RotatePlanner.plan(state([], rows: [:]), maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(plan.addsVersion)
        #expect(plan.targetVersion == 1)
    }

    @Test func rowsLeftOnAnOldVersionAfterAnInterruptedRunAreRewrappedWithoutANewVersion() {
        let plan = RotatePlanner.plan(
            state([(1, 31, true), (2, 0, true)], rows: [1: 2, 2: 5]), maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(!plan.addsVersion)
        #expect(plan.rowsToRewrap == 2)
    }
}

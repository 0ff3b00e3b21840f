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

    @Test func oldFormatRowsAreCountedOnceAsRowsToMigrateNeverAlsoAsRowsToRewrap() {
        // Version 1 holds 5 rows, 2 of them in the old format; version 2 (the target) holds 3, 1 old.
        let snapshot = TenantKeyState(
            tenant: "t",
            versions: [
                KeyVersionState(number: 1, createdAt: now.addingTimeInterval(-20 * day), enabled: true),
                KeyVersionState(number: 2, createdAt: now.addingTimeInterval(-day), enabled: true),
            ], rowsByVersion: [1: 5, 2: 3], oldFormatRowsByVersion: [1: 2, 2: 1])
        let plan = RotatePlanner.plan(snapshot, maxKeyAge: 30 * day, keepVersions: 1, now: now)
        #expect(plan.rowsToRewrap == 3)  // the envelope rows on version 1
        #expect(plan.rowsToMigrate == 3)  // every old-format row, on version 1 or on the target
        #expect(RotateStage.rowsToMove(plan) == 6)  // of 8 rows: the 2 envelope rows on the target stay
        #expect(plan.summary == "rewrap 3 tokens to version 2, migrate 3 tokens to envelope encryption")
    }
}

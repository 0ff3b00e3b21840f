import Foundation
import Testing

@testable import CLI
@testable import Report
@testable import Support

@Suite struct ProgressMeterTests {
    @Test func lineShowsDoneTotalPercentRateAndTimeLeft() {
        let line = ProgressMeter.line(stage: "rotate-keys", done: 250_000, total: 1_000_000, unit: "tokens", elapsed: 5)
        #expect(line == "rotate-keys: 250,000/1,000,000 tokens (25%), 50,000/s, 15 s left")
    }

    @Test func lineLeavesOutRateUntilThereIsSomethingToMeasure() {
        #expect(ProgressMeter.line(stage: "s", done: 0, total: 10, unit: "users", elapsed: 0.1) == "s: 0/10 users (0%)")
    }

    @Test func countsAreGroupedByThousands() {
        #expect(CountText.number(1_234_567) == "1,234,567")
        #expect(CountText.number(999) == "999")
        #expect(CountText.of(1, "token") == "1 token")
        #expect(CountText.of(2_000, "token") == "2,000 tokens")
    }

    @Test func durationsPrintInTheirShortestExactUnit() {
        #expect(DurationText.text(30 * 86_400) == "30d")
        #expect(DurationText.text(14 * 86_400) == "2w")
        #expect(DurationText.text(90) == "90s")
        #expect(DurationText.text(0) == "0s")
    }
}

import Foundation
import Testing

@testable import CLI
@testable import Report
@testable import Support

@Suite struct TextFormattingTests {
    @Test func timestampsAreUTCISO8601() {
        #expect(DateText.timestamp(Date(timeIntervalSince1970: 1_795_000_000)) == "2026-11-18T11:06:40Z")
        #expect(DateText.day(Date(timeIntervalSince1970: 1_795_000_000)) == "2026-11-18")
    }

    @Test func tableColumnsAlignAndEmptyListingsSayNone() {
        #expect(TextTable.render(header: ["A", "BB"], rows: [["xyz", "1"]]) == "A    BB\nxyz  1")
        #expect(TextTable.render(header: ["A"], rows: []) == "A\n(none)")
    }
}

import Foundation
import Testing

@testable import Report

/// A crafted report cannot hang a CI step: reading takes time linear in the file's size, and what
/// would not (an element with more attributes than any JUnit report has) is refused at once.
@Suite struct ReportInputLimitTests {
    /// One `<testsuite>` with `count` attributes.
    static func manyAttributes(_ count: Int) -> String {
        var xml = "<testsuites><testsuite name=\"s\""
        xml.reserveCapacity(count * 12 + 100)
        for index in 0..<count { xml += " a\(index)=\"x\"" }
        return xml + "><testcase name=\"c\"/></testsuite></testsuites>\n"
    }

    @Test func aReportWithThreeHundredThousandAttributesOnOneElementIsRefusedAtOnce() throws {
        try withTemporaryDirectory { folder in
            let xml = Self.manyAttributes(300_000)
            #expect(xml.utf8.count > 3_000_000)
            try Data(xml.utf8).write(to: URL(fileURLWithPath: folder + "/crafted.xml"))
            let started = Date()
            let result = try runTokenKeeper(["report", "show", folder + "/crafted.xml"], timeout: 10)
            #expect(Date().timeIntervalSince(started) < 10)
            #expect(result.status == 2)
            #expect(
                result.stderr.contains("more than \(JUnitInputCheck.maximumAttributesPerElement) attributes"),
                "\(result.stderr)")
        }
    }

    @Test func elementsJustUnderTheLimitStillReadInLinearTime() throws {
        let element =
            "<testcase name=\"c\""
            + (0..<(JUnitInputCheck.maximumAttributesPerElement - 1)).map { " a\($0)=\"x\"" }.joined() + "/>"
        let count = 3_500_000 / element.utf8.count
        let xml =
            "<testsuites><testsuite name=\"s\">" + String(repeating: element, count: count)
            + "</testsuite></testsuites>"
        let started = Date()
        let document = try JUnitDocument.parse(Data(xml.utf8), path: "wide.xml")
        #expect(document.suites.first?.cases.count == count)
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test func anElementOverTheLimitIsRefusedWhereverItIs() {
        let xml =
            "<?xml version=\"1.0\"?>\n<!-- <x a=1> -->\n<testsuites>\n<testsuite name=\"s\">\n<testcase name=\"a > b\" "
            + (0...JUnitInputCheck.maximumAttributesPerElement).map { "a\($0)='=>'" }.joined(separator: " ")
            + "/>\n</testsuite></testsuites>"
        let error = #expect(throws: JUnitReadError.self) { try JUnitDocument.parse(Data(xml.utf8), path: "r.xml") }
        #expect(error?.problem.contains("line 5") == true, "\(String(describing: error))")
    }

    @Test func aDocumentTypeDeclarationIsRefused() {
        let xml = "<?xml version=\"1.0\"?><!DOCTYPE t [<!ENTITY a \"aaaa\">]><testsuites/>"
        let error = #expect(throws: JUnitReadError.self) { try JUnitDocument.parse(Data(xml.utf8), path: "r.xml") }
        #expect(error?.problem.contains("DOCTYPE") == true)
    }
}

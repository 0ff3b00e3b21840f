import Foundation
import Testing

@testable import Report
@testable import Spec

/// Names in a spec that become file names, class names and terminal output are checked by `validate`:
/// a job name cannot lead a report out of its folder, cut it short with a NUL, or print escape sequences.
@Suite struct SpecNameTests {
    static func spec(name: String, stage: String = "r", junit: String = "./reports/r.xml") -> String {
        """
        version: 1
        name: \(name)
        vault:
          path: ./v
        store:
          sqlite: ./s.db
        stages:
          - name: \(stage)
            kind: rotate
            tenants: all
        report:
          junit: \(junit)

        """
    }

    func errors(_ text: String) -> String {
        do {
            _ = try JobSpec.parse(text: text, fileName: "job.yml", sourcePath: "/specs/job.yml")
            return "(accepted)"
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        "\"../../../tmp/x\"", "a/b", "\"nightly\\0.xml\"", "\"\\e[31mred\"", ".hidden", "\"two words\"",
        "\"line\\nbreak\"",
    ])
    func aJobNameThatIsNotASafeFileNameIsRefusedAtItsLine(_ name: String) {
        let message = errors(Self.spec(name: name))
        #expect(message.contains("job.yml:2:7: error: the job name"), "\(message)")
        #expect(message.contains("letters, digits"))
        #expect(
            !message.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" },
            "the message prints the name's control characters")
    }

    @Test(arguments: ["nightly", "entra-nightly", "nächtlich", "job_2.v1"])
    func ordinaryJobNamesAreAccepted(_ name: String) {
        #expect(errors(Self.spec(name: name)) == "(accepted)")
    }

    @Test func aStageNameThatIsNotASafeNameIsRefused() {
        #expect(errors(Self.spec(name: "n", stage: "\"../x\"")).contains("job.yml:8:11: error: the stage name"))
    }

    @Test func aPathWithAControlCharacterIsRefused() {
        let message = errors(Self.spec(name: "n", junit: "\"./reports/r\\0.xml\""))
        #expect(message.contains("job.yml:12:10: error:") && message.contains("control character"), "\(message)")
    }

    @Test func runRefusesAJobNameThatWouldWriteOutsideTheReportFolder() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try Data(
                JobFixture.header.replacingOccurrences(of: "name: test-job", with: "name: \"../escaped\"").appending(
                    """
                    stages:
                      - name: r
                        kind: rotate
                        tenants: all
                    """
                ).utf8
            ).write(to: URL(fileURLWithPath: folder + "/job.yml"))
            let result = try runTokenKeeper(
                ["run", "job.yml", "--report-dir", "out"], environment: fixture.environment, workingDirectory: folder)
            #expect(result.status == 2, "\(result.stderr)")
            #expect(result.stderr.contains("the job name"))
            for file in ["escaped.xml", "escaped.md", "escaped.json"] {
                #expect(!FileManager.default.fileExists(atPath: folder + "/" + file))
            }
        }
    }
}

import Foundation
import TokenKeeper

/// Times `tokenkeeper report show` and `report diff` on JUnit reports of many testcases (issue 5:
/// both must handle 100,000 testcases in under a second).

struct ReportBenchmark {
    let cases: Int
    let options: BenchOptions

    func run() throws {
        let folder = (options.directory as NSString).appendingPathComponent("tokenkeeper-report-bench-\(getpid())")
        try PrivateFiles.createPrivateDirectory(folder)
        defer { if !options.keep { try? FileManager.default.removeItem(atPath: folder) } }
        let old = folder + "/old.xml", new = folder + "/new.xml"
        try Data(JUnitReportWriter.xml(report(failingEvery: 3)).utf8).write(to: URL(fileURLWithPath: old))
        try Data(JUnitReportWriter.xml(report(failingEvery: 4)).utf8).write(to: URL(fileURLWithPath: new))
        let size = (try FileManager.default.attributesOfItem(atPath: new)[.size] as? Int) ?? 0
        print(
            "report review benchmark: \(cases) testcases per report (\(size / 1_048_576) MiB), "
                + "\(ProcessInfo.processInfo.activeProcessorCount) cores")
        for (label, arguments) in [
            ("report show", ["report", "show", new]), ("report diff", ["report", "diff", old, new]),
            ("report show --format json", ["report", "show", new, "--format", "json"]),
        ] {
            let measured = try MeasuredProcess.run([options.tokenkeeper] + arguments)
            guard measured.status <= 1 else { throw BenchError("\(label) exited \(measured.status)") }
            print(
                "  " + label.padding(toLength: 28, withPad: " ", startingAt: 0)
                    + String(format: "%.3f s, peak RSS %.1f MiB", measured.seconds, measured.peakRSSMiB))
        }
    }

    /// A run report with `cases` testcases over three stages; every `failingEvery`-th one failed.
    private func report(failingEvery: Int) -> RunReport {
        let types: [FailureType] = [.reauthRequired, .transient, .crypto, .policyDenied]
        var stages: [StageReport] = []
        let perStage = cases / 3
        for stage in 0..<3 {
            var items: [CaseReport] = []
            items.reserveCapacity(perStage)
            for index in 0..<perStage {
                let name = "tenant-\(index % 100)/user-\(stage)-\(index)/entra"
                if index % failingEvery == 0 {
                    items.append(
                        CaseReport(
                            name: name, status: .failed, failureType: types[index % types.count], code: "AADSTS700082",
                            message: "invalid_grant: the refresh token has expired due to inactivity"))
                } else {
                    items.append(CaseReport(name: name, status: .passed, message: "refreshed"))
                }
            }
            stages.append(
                StageReport(
                    name: "stage-\(stage)", kind: "refresh", startedAt: Date(), duration: 1, result: .failed,
                    summary: "benchmark", cases: items))
        }
        return RunReport(
            job: "bench", runID: "bench-\(failingEvery)", specPath: "bench.yml",
            specSHA256: String(repeating: "0", count: 64),
            dryRun: false, toolVersion: "bench", principal: "bench", hostname: "localhost", startedAt: Date(),
            duration: 3,
            stages: stages)
    }
}

import Foundation
import Report
import Spec

/// Collects what a stage did, case by case, and turns it into a ``StageReport``. A class, so that the
/// callbacks of long walks (rewrap, refresh) can record into it.
///
/// Every failure is recorded as its own case and the stage goes on: a failed item never hides the
/// others. Successes are counted; with `detail: items` each is listed too.

package final class StageRecorder {
    package let name: String
    package let kind: StageKind
    package let startedAt: Date
    package let detail: ReportSettings.Detail
    package private(set) var cases: [CaseReport] = []
    package private(set) var log: [String] = []
    private var countNames: [StageCount] = []
    private var countValues: [StageCount: Int] = [:]

    /// Starts recording a stage.
    package init(name: String, kind: StageKind, startedAt: Date, detail: ReportSettings.Detail) {
        self.name = name
        self.kind = kind
        self.startedAt = startedAt
        self.detail = detail
    }

    /// Whether any case failed or errored.
    package var hasFailures: Bool { cases.contains { $0.status == .failed || $0.status == .errored } }

    /// A case that passed (a tenant done or up to date).
    package func pass(_ caseName: String, _ message: String, duration: TimeInterval = 0) {
        cases.append(CaseReport(name: caseName, status: .passed, message: message, duration: duration))
    }

    /// A passing item, listed only with `detail: items`.
    package func passItem(_ caseName: String, _ message: String) {
        if detail == .items { pass(caseName, message) }
    }

    /// A case that was not attempted, with the reason.
    package func skip(_ caseName: String, _ message: String) {
        cases.append(CaseReport(name: caseName, status: .skipped, message: message))
    }

    /// A case that failed with `error`, classified into a ``FailureType``.
    package func fail(_ caseName: String, _ error: any Error, duration: TimeInterval = 0) {
        let (type, code, message) = FailureClassifier.classify(error)
        fail(caseName, type: type, code: code, message: message, duration: duration)
    }

    /// A case that failed for a known reason.
    package func fail(
        _ caseName: String, type: FailureType, code: String? = nil, message: String,
        duration: TimeInterval = 0
    ) {
        cases.append(
            CaseReport(
                name: caseName, status: .failed, failureType: type, code: code, message: message, duration: duration))
    }

    /// A case that could not run at all (JUnit `error`), for example a tenant whose snapshot could not be read.
    package func error(_ caseName: String, _ error: any Error) {
        let (type, code, message) = FailureClassifier.classify(error)
        cases.append(CaseReport(name: caseName, status: .errored, failureType: type, code: code, message: message))
    }

    /// A case that could not run at all, for a known reason.
    package func error(_ caseName: String, type: FailureType, code: String? = nil, message: String) {
        cases.append(CaseReport(name: caseName, status: .errored, failureType: type, code: code, message: message))
    }

    /// A line of detail for the report's log (JUnit `system-out`).
    package func note(_ line: String) { log.append(line) }

    /// Adds to a count, keeping the order counts first appear in.
    package func count(_ countName: StageCount, _ value: Int = 1) {
        if countValues[countName] == nil { countNames.append(countName) }
        countValues[countName, default: 0] += value
    }

    /// The current value of a count.
    package func value(of countName: StageCount) -> Int { countValues[countName] ?? 0 }

    /// The finished report: failed when any case failed or errored, else passed.
    package func finish(summary: String, at end: Date) -> StageReport {
        StageReport(
            name: name, kind: kind.rawValue, startedAt: startedAt, duration: end.timeIntervalSince(startedAt),
            result: hasFailures ? .failed : .passed, summary: summary,
            counts: countNames.map { Count($0, countValues[$0]!) }, cases: cases, log: log)
    }
}

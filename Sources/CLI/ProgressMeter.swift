import Foundation
import Stages
import Support

/// Draws a stage's progress for people: on a terminal one line redrawn in place (items done, rate,
/// time left), at most ten times a second; elsewhere (CI) only one line per finished stage.

package final class ProgressMeter: StageProgress {
    private let console: Console
    private var stage = ""
    private var unit = ""
    private var total = 0
    private var done = 0
    private var started = Date()
    private var lastDrawn = Date.distantPast

    /// A meter printing to `console`.
    package init(console: Console) { self.console = console }

    package func begin(stage: String, total: Int, unit: String) {
        self.stage = stage
        self.unit = unit
        self.total = total
        done = 0
        started = Date()
        lastDrawn = .distantPast
        draw(force: true)
    }

    package func advance(_ count: Int) {
        done += count
        draw(force: false)
    }

    package func end(stage: String, summary: String) {
        console.endProgress()
        let time = stage == self.stage ? " (\(DateText.seconds(Date().timeIntervalSince(started))) s)" : ""
        console.err("\(stage): \(summary)\(time)")
    }

    private func draw(force: Bool) {
        guard console.isInteractive, total > 0 else { return }
        let now = Date()
        guard force || now.timeIntervalSince(lastDrawn) >= 0.1 else { return }
        lastDrawn = now
        console.progress(
            Self.line(stage: stage, done: done, total: total, unit: unit, elapsed: now.timeIntervalSince(started)))
    }

    /// `rotate-keys: 120,000/1,000,000 tokens (12%), 95,000/s, 9 s left`.
    package static func line(stage: String, done: Int, total: Int, unit: String, elapsed: TimeInterval) -> String {
        let percent = total > 0 ? done * 100 / total : 100
        var line = "\(stage): \(CountText.number(done))/\(CountText.number(total)) \(unit) (\(percent)%)"
        if elapsed > 0.5, done > 0 {
            let rate = Double(done) / elapsed
            line += ", \(CountText.number(Int(rate)))/s"
            let left = Double(total - done) / rate
            line += ", \(left < 1 ? "<1 s" : DateText.age(left)) left"
        }
        return line
    }
}

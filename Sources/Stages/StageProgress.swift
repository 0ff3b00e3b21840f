/// Where a stage reports how far it has got, so the command line can draw progress (items done,
/// rate, time left) on a terminal and print one line per stage in CI.
///
/// Called from the thread running the stage; implementations must be cheap (the rotate stage calls
/// ``advance(_:)`` once per batch).
package protocol StageProgress: AnyObject {
    /// A stage starts work on `total` items (`unit` names them: "tokens", "users").
    func begin(stage: String, total: Int, unit: String)
    /// `count` more items are done.
    func advance(_ count: Int)
    /// The stage is finished (called by the runner for every stage, run or not); `summary` is its one-line outcome.
    func end(stage: String, summary: String)
}

/// Progress that goes nowhere, for the library API and tests.
package final class SilentProgress: StageProgress {
    /// Creates a sink that ignores everything.
    package init() {}
    package func begin(stage: String, total: Int, unit: String) {}
    package func advance(_ count: Int) {}
    package func end(stage: String, summary: String) {}
}

import Foundation

/// A clock a test moves by hand, handed to a backend where it would read the time: purge dates and
/// retention can then be crossed without waiting.
///
/// `@unchecked Sendable`: the one mutable field is read and written only under `lock`.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var current: Date

    /// A clock showing `start`.
    init(_ start: Date) {
        current = start
    }

    /// The time the clock shows.
    var now: Date { lock.withLock { current } }

    /// Moves the clock forward by `seconds`.
    func advance(by seconds: TimeInterval) {
        lock.withLock { current = current.addingTimeInterval(seconds) }
    }

    /// Sets the clock to `date`.
    func set(_ date: Date) {
        lock.withLock { current = date }
    }

    /// The clock as the function backends take.
    var function: @Sendable () -> Date { { [self] in now } }
}

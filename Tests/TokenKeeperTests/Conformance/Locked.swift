import Foundation

/// A value that several threads of a test update, behind a lock.
///
/// `@unchecked Sendable`: `value` is read and written only under `lock`.
final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    /// A box holding `value`.
    init(_ value: Value) {
        stored = value
    }

    /// The value now.
    var value: Value { lock.withLock { stored } }

    /// Changes the value under the lock.
    func update(_ change: (inout Value) -> Void) {
        lock.withLock { change(&stored) }
    }
}

import Foundation

/// One operation in flight per key within this process: the first caller starts it, and callers that
/// come while it runs wait for its result (value or error) instead of starting their own.
///
/// ``TokenAccess`` runs each redemption through it, so concurrent requests of one user cause one
/// redemption at the provider (across processes and hosts the row lease coordinates instead). The
/// operation runs in a task of its own, which a caller's cancellation does not reach: it runs to its end
/// (and callers wait for it), so a refresh token the provider rotated is always committed (I8).
///
/// `@unchecked Sendable`: the table of flights is only touched under `lock`.
final class SingleFlight<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    private struct Flight {
        var id: UInt64
        var task: Task<Value, any Error>
    }

    private let lock = NSLock()
    private var flights: [Key: Flight] = [:]
    private var started: UInt64 = 0

    /// Creates an empty table.
    init() {}

    /// The result of the flight for `key`: the one in the air, or a new one running `operation`.
    /// - throws: whatever the operation threw, to every caller that waited for it.
    func run(_ key: Key, _ operation: @escaping @Sendable () async throws -> Value) async throws -> Value {
        try await task(for: key, operation).value
    }

    /// How many flights are in the air (for tests).
    var inFlight: Int { withLock { flights.count } }

    /// The flight for `key`, started if there is none. The task is created and recorded under the lock,
    /// and lands (removes itself) under the same lock, so it can never be removed before it is recorded.
    private func task(for key: Key, _ operation: @escaping @Sendable () async throws -> Value) -> Task<Value, any Error>
    {
        withLock {
            if let flight = flights[key] { return flight.task }
            started += 1
            let id = started
            let task = Task<Value, any Error> {
                defer { self.land(key, id: id) }
                return try await operation()
            }
            flights[key] = Flight(id: id, task: task)
            return task
        }
    }

    private func land(_ key: Key, id: UInt64) {
        withLock {
            if flights[key]?.id == id { flights[key] = nil }
        }
    }

    private func withLock<T>(_ body: () throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}

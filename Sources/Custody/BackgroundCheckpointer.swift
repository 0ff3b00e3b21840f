import Foundation
import Store

/// Runs the store's PASSIVE checkpoints on a thread of its own, with its own session, while the
/// rotation goes on writing: a PASSIVE checkpoint never blocks a writer or a reader, so the walk need
/// not wait for its disk writes and syncs either. Each checkpoint is timed.
///
/// `@unchecked Sendable`: its state is guarded by its `NSCondition`; the session is used by its thread only.
final class BackgroundCheckpointer: @unchecked Sendable {
    private let condition = NSCondition()
    private var requested = 0
    private var stopping = false
    private var running = true
    private var durations: [TimeInterval] = []
    private var failure: (any Error)?

    /// Starts the thread, with a new session on the store `sessions` opens.
    init(sessions: TokenStoreSessions) {
        Thread.detachNewThread { [self] in run(sessions) }
    }

    /// Asks for a checkpoint; returns at once. Requests made while one runs are served by one more run.
    func request() {
        condition.lock()
        requested += 1
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for the checkpoints asked for to finish, stops the thread, and returns how long each took.
    /// - throws: the first error a checkpoint met.
    func finish() throws -> [TimeInterval] {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running { condition.wait() }
        let result = durations
        let error = failure
        condition.unlock()
        if let error { throw error }
        return result
    }

    private func run(_ sessions: TokenStoreSessions) {
        var session: (any TokenStore)?
        while true {
            condition.lock()
            while requested == 0, !stopping { condition.wait() }
            let work = requested > 0 && failure == nil
            requested = 0
            if !work, stopping {
                running = false
                condition.broadcast()
                condition.unlock()
                return
            }
            condition.unlock()
            guard work else { continue }
            do {
                if session == nil { session = try sessions.open() }
                let ((), seconds) = try TokenRewrapper.timed { try session!.checkpoint() }
                condition.lock()
                durations.append(seconds)
                condition.unlock()
            } catch {
                condition.lock()
                failure = error
                condition.unlock()
            }
        }
    }
}

import Foundation

/// Paces the requests of a whole stage: at most `max_rate` per second, and when a provider answers 429
/// every request waits (the Retry-After it gave, or a second) and the rate is halved, so the stage as a
/// whole slows down instead of each request hammering on. The rate climbs back slowly with successes.
public actor RequestPacer {
    private let maxRate: Double?
    private var rate: Double?
    private var nextSlot = ContinuousClock.now
    private var pausedUntil = ContinuousClock.now
    /// How many times the stage was slowed down by a 429.
    public private(set) var slowdowns = 0

    /// A pacer allowing `maxRate` requests per second (nil: no limit until a 429).
    public init(maxRate: Double?) {
        self.maxRate = maxRate
        self.rate = maxRate
    }

    /// Waits for this request's turn.
    public func acquire() async throws {
        let now = ContinuousClock.now
        var start = max(now, pausedUntil)
        if let rate {
            start = max(start, nextSlot)
            nextSlot = start + .seconds(1 / rate)
        }
        if start > now { try await Task.sleep(until: start, clock: .continuous) }
    }

    /// A 429 (or a Retry-After on a 503): pause every request for `retryAfter` seconds (default 1) and
    /// halve the rate (at least one request per second).
    public func slowDown(retryAfter: TimeInterval?) {
        slowdowns += 1
        let pause = min(max(retryAfter ?? 1, 0), 120)
        pausedUntil = max(pausedUntil, ContinuousClock.now + .seconds(pause))
        let current = rate ?? 20
        rate = max(1, current / 2)
    }

    /// A success: the rate climbs back by 5%, up to `max_rate` (or, without one, until no limit).
    public func succeeded() {
        guard let current = rate else { return }
        let raised = current * 1.05
        if let maxRate { rate = min(maxRate, raised) } else { rate = raised > 1_000 ? nil : raised }
    }
}

/// Exponential backoff with jitter for transient failures, honouring Retry-After.
public struct RetryPolicy: Sendable {
    /// Retries after the first attempt.
    public var retries: Int
    /// The first backoff, in seconds.
    public var base: TimeInterval = 0.5
    /// The longest backoff, in seconds.
    public var cap: TimeInterval = 30

    /// A policy with `retries` retries.
    public init(retries: Int) { self.retries = retries }

    /// The wait before retry number `attempt` (1-based): Retry-After when given, else
    /// base × 2^(attempt-1) with ±50% jitter, capped.
    public func delay(attempt: Int, retryAfter: TimeInterval?) -> TimeInterval {
        if let retryAfter { return min(retryAfter, cap) }
        let exponential = base * pow(2, Double(attempt - 1))
        return min(cap, exponential * Double.random(in: 0.5...1.5))
    }
}

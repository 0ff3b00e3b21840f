import Foundation

/// Dates as tokenkeeper prints them: UTC, ISO 8601.
package enum DateText {
    /// `2026-11-22T03:00:00Z`.
    package static func timestamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }

    /// `2026-11-22`.
    package static func day(_ date: Date) -> String {
        String(timestamp(date).prefix(10))
    }

    /// A short age for people: `45 s`, `12 min`, `5 h`, `31 d`.
    package static func age(_ interval: TimeInterval) -> String {
        switch interval {
        case ..<120: "\(Int(interval)) s"
        case ..<7_200: "\(Int(interval / 60)) min"
        case ..<172_800: "\(Int(interval / 3_600)) h"
        default: "\(Int(interval / 86_400)) d"
        }
    }
}

extension DateText {
    /// `2026-11-22T03:00:00`, UTC without a zone: the form the JUnit schema's `timestamp` demands.
    package static func junitTimestamp(_ date: Date) -> String {
        String(timestamp(date).prefix(19))
    }

    /// `1.234`: seconds with millisecond precision, never negative (Azure DevOps rejects a negative time).
    package static func seconds(_ interval: TimeInterval) -> String {
        let millis = Int((max(0, interval) * 1000).rounded())
        let fraction = String(millis % 1000)
        return "\(millis / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }
}

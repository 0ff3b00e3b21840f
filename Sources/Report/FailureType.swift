/// Why an item failed, as reports name it: the JUnit `failure@type`, the Markdown group, the JSON field.
///
/// The raw values are stable: CI dashboards and `report diff` group by them.
public enum FailureType: String, Codable, Sendable, CaseIterable, Comparable {
    /// The identity provider refused the refresh token for good: the user must sign in again.
    case reauthRequired = "reauth_required"
    /// A timeout, a 5xx, a 429 or a busy store: retrying later is expected to work.
    case transient
    /// A stored token did not decrypt with the key its row names (tampered, or the key is gone).
    case crypto
    /// The principal lacks a vault permission the step needs.
    case policyDenied = "policy_denied"
    /// A vault file or the store failed its integrity check.
    case corrupt
    /// The job's own settings are wrong (client credentials, provider, paths): fix the spec.
    case configuration
    /// Something the spec names does not exist.
    case notFound = "not_found"
    /// The machine got in the way: a file, a disk, a lock.
    case environment
    /// Anything else; the message says what.
    case unexpected

    public static func < (lhs: FailureType, rhs: FailureType) -> Bool { lhs.rawValue < rhs.rawValue }
}

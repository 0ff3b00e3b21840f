/// A secret string (refresh token, client secret, assertion) that never shows its value when printed.
///
/// `description`, `debugDescription`, string interpolation and `dump` all give `<redacted>`, so a secret
/// that slips into a log line, an error or a report leaks nothing (invariant I6). Read the value only
/// with ``revealed`` at the one place that must send or store it.
public struct SecretText: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    private let value: String

    /// Wraps a secret value.
    public init(_ value: String) { self.value = value }

    /// The secret itself. Call this only to send it to its endpoint or to seal it.
    public var revealed: String { value }

    /// Whether the secret is the empty string.
    public var isEmpty: Bool { value.isEmpty }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: []) }
}

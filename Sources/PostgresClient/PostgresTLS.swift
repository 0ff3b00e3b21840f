import Foundation
import Support

/// The TLS rule of the PostgreSQL backends, applied to a connection: ``PostgresTLS`` (in Support, so the spec
/// can name it) says what the spec accepts; this says what that means for a connection string.
extension PostgresTLS {
    /// The keys to add after the caller's connection string (later keys override earlier ones in libpq).
    package func overrides(for connectionString: String, environment: [String: String]) -> [(
        key: String, value: String
    )] {
        guard self == .verifiedOffHost, Self.leavesThisHost(connectionString, environment: environment) else {
            return []
        }
        return [("sslmode", "verify-full")]
    }

    /// Whether any host the connection string (or, where it names none, `PGHOST`/`PGHOSTADDR`) names is
    /// neither a Unix socket (a path, or `@` for Linux's abstract namespace) nor a loopback address.
    package static func leavesThisHost(_ connectionString: String, environment: [String: String]) -> Bool {
        let options = PostgresConnection.options(of: connectionString)
        let hosts =
            (options["host"] ?? environment["PGHOST"] ?? "") + ","
            + (options["hostaddr"] ?? environment["PGHOSTADDR"] ?? "")
        return hosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.contains { host in
            !(host.isEmpty || host.hasPrefix("/") || host.hasPrefix("@") || isLoopback(host))
        }
    }

    /// `localhost`, 127.0.0.0/8 or ::1.
    package static func isLoopback(_ host: String) -> Bool {
        let lowered = host.lowercased()
        if lowered == "localhost" || lowered == "::1" || lowered == "[::1]" { return true }
        let parts = lowered.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts[0] == "127" && parts.allSatisfy { UInt8($0) != nil }
    }
}

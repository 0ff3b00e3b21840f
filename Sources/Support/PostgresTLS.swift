/// What a job spec accepts of a PostgreSQL server's TLS (../shared/DESIGN.md "State backends"): a server
/// that is not on this host (a Unix socket or a loopback address) is reached only with
/// `sslmode=verify-full`, the server's certificate checked against a trusted root and its name, whatever
/// the connection string says; unless the spec says, in so many words, that it accepts less
/// (`tls: unverified`).
///
/// The choice is a plain value here, so the spec (which names it) and the backends (which apply it) share
/// one type without the spec reaching libpq; the rule itself is applied by the PostgreSQL client
/// (`PostgresTLS.overrides(for:environment:)` in PostgresClient).
public enum PostgresTLS: Sendable, Equatable {
    /// `verify-full` for every host off this machine (the default).
    case verifiedOffHost
    /// The connection string's own `sslmode`: only when the spec says `tls: unverified` (reported as a warning).
    case unverified
}

import Foundation
import Support

/// Where a job's token store is: an SQLite file (the embedded default) or a PostgreSQL database.
///
/// A PostgreSQL connection string is a secret (it may hold a password, and libpq echoes its parts), so a
/// location never holds one: it names where to read it (`env:NAME` or `file:PATH`), and prints as that
/// reference (`postgres:env:TOKENKEEPER_STORE_URL`). The spec's `store:` block and the command line's
/// `--store` / `TOKENKEEPER_STORE` both become one of these (``StateLocationText`` parses the latter).
public enum StoreLocation: Sendable, Equatable, CustomStringConvertible {
    /// An SQLite file (absolute, or relative to the working folder when given on the command line).
    case sqlite(path: String)
    /// A PostgreSQL database: where its connection string is, and what TLS the spec accepts.
    case postgres(connection: SecretReference, tls: PostgresTLS)

    /// The path, or `postgres:env:NAME` / `postgres:file:PATH`: how messages and locks name the store.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let connection, _): "postgres:\(connection)"
        }
    }
}

/// Where a job's key vault is: a folder (the file vault, the embedded default) or a PostgreSQL database.
/// The connection string is a reference, never the value, as for ``StoreLocation``.
public enum VaultLocation: Sendable, Equatable, CustomStringConvertible {
    /// A vault folder.
    case folder(path: String)
    /// A PostgreSQL database: where its connection string is, and what TLS the spec accepts.
    case postgres(connection: SecretReference, tls: PostgresTLS)

    /// The path, or `postgres:env:NAME` / `postgres:file:PATH`.
    public var description: String {
        switch self {
        case .folder(let path): path
        case .postgres(let connection, _): "postgres:\(connection)"
        }
    }
}

extension PostgresTLS {
    /// The warning every run prints (console and report) for a backend whose spec accepts an unverified
    /// server; nil for the default rule.
    public func warning(for location: String) -> String? {
        guard self == .unverified else { return nil }
        return "\(location): tls: unverified: the server's certificate is not checked (the connection string's "
            + "own sslmode applies), so a machine in the way can pose as the server; set up verify-full and drop "
            + "'tls: unverified' from the spec"
    }
}

/// The one parser of a state location given as text on the command line (`--vault`, `--store`,
/// `TOKENKEEPER_VAULT`, `TOKENKEEPER_STORE`, `vault init`'s argument): `postgres:env:NAME`,
/// `postgres:file:PATH`, or a path. A connection string in its place is refused without being repeated:
/// it is a secret, and arguments show in process lists.
public enum StateLocationText {
    /// What a state location given as text is.
    public enum Parsed: Sendable, Equatable {
        /// A path (an SQLite file or a vault folder).
        case path(String)
        /// A PostgreSQL database whose connection string is behind this reference.
        case postgres(SecretReference)
    }

    /// Parses `text`; a relative `file:` path is taken from `baseDirectory` (the working folder).
    /// - throws: ``StateLocationError`` for `postgres:` followed by anything but `env:NAME` or `file:PATH`,
    ///   or for what looks like a connection string (a URI or `key=value` words); never repeating it.
    public static func parse(_ text: String, option: String, baseDirectory: String) throws -> Parsed {
        let lowered = text.lowercased()
        if lowered.hasPrefix("postgres:") {
            let rest = String(text.dropFirst("postgres:".count))
            if rest.hasPrefix("file:"),
                rest.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            {
                throw StateLocationError(option: option)
            }
            guard let reference = SecretReference.parse(rest, baseDirectory: baseDirectory) else {
                throw StateLocationError(option: option)
            }
            return .postgres(reference)
        }
        if looksLikeConnectionString(text) { throw StateLocationError(option: option) }
        return .path(text)
    }

    /// A URI (`postgresql://...`, any `scheme://`) or libpq's `keyword=value` form.
    static func looksLikeConnectionString(_ text: String) -> Bool {
        if text.contains("://") { return true }
        let keywords = ["host", "hostaddr", "port", "dbname", "user", "password", "sslmode", "service", "passfile"]
        return text.split(whereSeparator: \.isWhitespace).contains { word in
            keywords.contains { word.lowercased().hasPrefix($0 + "=") }
        }
    }
}

/// A state location that is not `postgres:env:NAME`, `postgres:file:PATH` or a path: most likely a
/// connection string, which is never taken from an argument and never repeated.
public struct StateLocationError: ActionableError {
    /// The option or variable that held it (`--store`, `TOKENKEEPER_VAULT`).
    public let option: String

    public var item: String { option }
    public var problem: String {
        "is not a path, postgres:env:NAME or postgres:file:PATH (a connection string? it is not repeated here)"
    }
    public var remedy: String {
        "A connection string is a secret: put it in an environment variable or a private file (mode 0600) and give "
            + "\(option) postgres:env:NAME or postgres:file:PATH."
    }
    public var exitStatus: ExitStatus { .usage }
}

@preconcurrency import CLibPQ
import Foundation
import Support

/// One libpq connection (a PostgreSQL session): prepared statements cached by SQL text, binary
/// parameters and results, and transactions. Not thread-safe: one per thread, like a SQLite connection.
///
/// The connection string is a secret: it is kept only to scrub libpq's messages of its values and is
/// never put into an error, a description or a log. Every message that leaves this type is scrubbed.
package final class PostgresConnection {
    /// The libpq handle.
    private let handle: OpaquePointer
    /// Where the store is, for messages (never the connection string).
    package let location: String
    /// Whether the session refuses writes (`default_transaction_read_only`).
    package let isReadOnly: Bool
    /// Every value of the connection string, longest first, to cut out of messages.
    private let secrets: [String]
    /// Prepared statement names by SQL text.
    private var prepared: [String: String] = [:]
    /// How deep `transaction` calls are nested (only the outermost begins and commits).
    private var transactionDepth = 0

    /// Connects with `connectionString` (a libpq keyword/value string or URI). The connect timeout
    /// defaults to 10 s and every statement is limited to `statementTimeout` seconds, so no call waits
    /// forever on a server that went away or a lock that is never freed.
    /// - throws: ``PostgresError`` (operation `connect`) with libpq's message scrubbed of the string's values.
    /// A server off this host is reached with `sslmode=verify-full` unless `tls` is ``PostgresTLS/unverified``.
    package init(
        connectionString: String, location: String, readOnly: Bool, tls: PostgresTLS = .verifiedOffHost,
        statementTimeout: Int = 120
    ) throws {
        self.location = location
        isReadOnly = readOnly
        secrets = Self.values(of: connectionString)
        // Keys are applied in order: the defaults first, then the caller's string (expand_dbname), which may override them.
        // Then the TLS rule, which the string may not lift.
        let tlsKeys = tls.overrides(for: connectionString, environment: ProcessInfo.processInfo.environment)
        let keys = ["connect_timeout", "application_name", "dbname"] + tlsKeys.map(\.key)
        let values = ["10", "tokenkeeper", connectionString] + tlsKeys.map(\.value)
        let connection: OpaquePointer? = Self.withCStrings(keys) { keyPointers in
            Self.withCStrings(values) { valuePointers in PQconnectdbParams(keyPointers, valuePointers, 1) }
        }
        guard let connection else {
            throw PostgresError(
                location: location, operation: "connect", sqlState: nil,
                message: "libpq could not allocate a connection")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let message = Self.scrub(String(cString: PQerrorMessage(connection)), removing: secrets)
            PQfinish(connection)
            throw PostgresError(location: location, operation: "connect", sqlState: nil, message: message)
        }
        handle = connection
        // Notices (for example from CREATE ... IF NOT EXISTS) would otherwise go to stderr.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        // Set after connecting, so the connection string cannot lift them.
        let milliseconds = statementTimeout * 1000
        try execute(
            "SET statement_timeout = \(milliseconds); SET lock_timeout = \(milliseconds)"
                + (readOnly ? "; SET default_transaction_read_only = on" : ""), purpose: "session settings")
    }

    deinit {
        PQfinish(handle)
    }

    /// The value libpq uses for `keyword` on this connection (for example `sslmode`), after the defaults,
    /// the caller's string and the TLS rule.
    package func effectiveOption(_ keyword: String) -> String? {
        guard let options = PQconninfo(handle) else { return nil }
        defer { PQconninfoFree(options) }
        var option = options
        while let name = option.pointee.keyword {
            if String(cString: name) == keyword { return option.pointee.val.map { String(cString: $0) } }
            option += 1
        }
        return nil
    }

    /// Runs one or more statements without parameters (the simple query protocol): schema migrations,
    /// BEGIN, COMMIT.
    package func execute(_ sql: String, purpose: String) throws {
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, purpose: purpose)
    }

    /// Runs `sql` (placeholders `$1`...) as a prepared statement with binary parameters; returns its rows
    /// in binary format. The statement is prepared once per connection.
    @discardableResult
    package func query(_ sql: String, _ parameters: [PostgresValue] = [], purpose: String) throws -> PostgresRows {
        let name = try preparedName(sql, parameters, purpose: purpose)
        let encoded = parameters.map(\.encoded)
        var lengths: [Int32] = encoded.map { Int32($0?.count ?? 0) }
        var formats = [Int32](repeating: 1, count: parameters.count)
        let buffers: [UnsafeMutablePointer<CChar>?] = encoded.map { bytes in
            guard let bytes else { return nil }
            let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBytes { raw in
                if let base = raw.baseAddress {
                    buffer.update(from: base.assumingMemoryBound(to: CChar.self), count: bytes.count)
                }
            }
            return buffer
        }
        defer { for buffer in buffers { buffer?.deallocate() } }
        var pointers: [UnsafePointer<CChar>?] = buffers.map { $0.map { UnsafePointer($0) } }
        let result = PQexecPrepared(handle, name, Int32(parameters.count), &pointers, &lengths, &formats, 1)
        do {
            try check(result, purpose: purpose)
        } catch {
            PQclear(result)
            throw error
        }
        return PostgresRows(result: result!)
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws). A call
    /// inside another's body joins the outer transaction.
    package func transaction<T>(purpose: String, _ body: () throws -> T) throws -> T {
        guard transactionDepth == 0 else {
            transactionDepth += 1
            defer { transactionDepth -= 1 }
            return try body()
        }
        try execute("BEGIN", purpose: purpose)
        transactionDepth = 1
        defer { transactionDepth = 0 }
        do {
            let result = try body()
            try execute("COMMIT", purpose: purpose)
            return result
        } catch {
            try? execute("ROLLBACK", purpose: purpose)
            throw error
        }
    }

    /// Creates temporary tables (`pg_temp`, this session's own, dropped when it ends), each `name` with its
    /// `columns` (a constant column list of the caller's), in one transaction that may write even when the
    /// session is read-only (`BEGIN READ WRITE`): PostgreSQL refuses every CREATE in a read-only transaction,
    /// temporary tables too. Only `CREATE TEMP TABLE` statements run in it, so nothing outside the session
    /// is written; the session stays read-only for every later transaction. Call outside a transaction.
    /// - throws: ``PostgresError``: SQLSTATE 42501 when the role lacks the TEMPORARY privilege on the
    ///   database, 25006 or 0A000 on a server that takes no writes at all (a hot standby).
    package func createTemporaryTables(_ tables: [(name: String, columns: String)], purpose: String) throws {
        precondition(transactionDepth == 0, "temporary tables are created in a transaction of their own")
        try execute("BEGIN READ WRITE", purpose: purpose)
        do {
            for table in tables {
                try execute("CREATE TEMP TABLE \(table.name) (\(table.columns))", purpose: purpose)
            }
            try execute("COMMIT", purpose: purpose)
        } catch {
            try? execute("ROLLBACK", purpose: purpose)
            throw error
        }
    }

    /// The statement's name, preparing it on first use.
    private func preparedName(_ sql: String, _ parameters: [PostgresValue], purpose: String) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "tk\(prepared.count + 1)"
        var types = parameters.map { Oid($0.oid) }
        let result = PQprepare(handle, name, sql, Int32(types.count), &types)
        defer { PQclear(result) }
        try check(result, purpose: purpose)
        prepared[sql] = name
        return name
    }

    /// Throws a scrubbed ``PostgresError`` unless `result` says the statement succeeded.
    private func check(_ result: OpaquePointer?, purpose: String) throws {
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        guard status != PGRES_COMMAND_OK, status != PGRES_TUPLES_OK else { return }
        var sqlState: String?
        var message = String(cString: PQerrorMessage(handle))
        if let result {
            if let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))) { sqlState = String(cString: state) }
            // The primary message only: DETAIL may quote a row's values.
            if let primary = PQresultErrorField(result, Int32(UInt8(ascii: "M"))) { message = String(cString: primary) }
        }
        if PQstatus(handle) != CONNECTION_OK, sqlState == nil { sqlState = "08006" }
        throw PostgresError(
            location: location, operation: purpose, sqlState: sqlState,
            message: Self.scrub(message.trimmingCharacters(in: .whitespacesAndNewlines), removing: secrets))
    }

    /// The keywords and values the connection string sets (empty when libpq cannot parse it).
    package static func options(of connectionString: String) -> [String: String] {
        var found: [String: String] = [:]
        var error: UnsafeMutablePointer<CChar>?
        if let options = PQconninfoParse(connectionString, &error) {
            var option = options
            while let keyword = option.pointee.keyword {
                if let value = option.pointee.val { found[String(cString: keyword)] = String(cString: value) }
                option += 1
            }
            PQconninfoFree(options)
        }
        if let error { PQfreemem(error) }
        return found
    }

    /// Every value of the connection string (and the string itself), longest first: what a message
    /// must never contain. Values shorter than 3 characters (a port digit, `0`) would cut up words and
    /// are not secret on their own.
    package static func values(of connectionString: String) -> [String] {
        Set(options(of: connectionString).values).union([connectionString]).filter { $0.count >= 3 }.sorted {
            $0.count > $1.count
        }
    }

    /// `message` with every one of `secrets` replaced by `[redacted]`.
    package static func scrub(_ message: String, removing secrets: [String]) -> String {
        secrets.reduce(message) { $0.replacingOccurrences(of: $1, with: "[redacted]") }
    }

    /// Calls `body` with a NULL-terminated C array of `strings`.
    private static func withCStrings<T>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> T) -> T {
        let copies = strings.map { strdup($0) }
        defer { for copy in copies { free(copy) } }
        var pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } } + [nil]
        return pointers.withUnsafeMutableBufferPointer { body(UnsafePointer($0.baseAddress!)) }
    }
}

@available(*, unavailable)
extension PostgresConnection: Sendable {}

/// The rows of one statement, in binary format. Read the columns with the types the SQL selects.
package final class PostgresRows {
    private let result: OpaquePointer

    init(result: OpaquePointer) {
        self.result = result
    }

    deinit {
        PQclear(result)
    }

    /// How many rows.
    package var count: Int { Int(PQntuples(result)) }
    /// How many rows an INSERT, UPDATE or DELETE changed.
    package var changes: Int { Int(String(cString: PQcmdTuples(result))) ?? 0 }

    /// Whether the column is NULL.
    package func isNull(_ row: Int, _ column: Int) -> Bool { PQgetisnull(result, Int32(row), Int32(column)) != 0 }

    /// The column's raw bytes (nil for NULL).
    package func bytes(_ row: Int, _ column: Int) -> [UInt8]? {
        guard !isNull(row, column), let value = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        let length = Int(PQgetlength(result, Int32(row), Int32(column)))
        return value.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }

    /// An integer column (int2, int4 or int8, or bool), 0 for NULL.
    package func int(_ row: Int, _ column: Int) -> Int64 {
        guard let bytes = bytes(row, column) else { return 0 }
        let unused = Int64(64 - 8 * min(bytes.count, 8))
        // Big-endian, sign-extended from the column's width.
        return (bytes.reduce(Int64(0)) { ($0 << 8) | Int64($1) } << unused) >> unused
    }

    /// An optional integer column.
    package func optionalInt(_ row: Int, _ column: Int) -> Int64? { isNull(row, column) ? nil : int(row, column) }

    /// A text column, "" for NULL.
    package func text(_ row: Int, _ column: Int) -> String { optionalText(row, column) ?? "" }

    /// An optional text column.
    package func optionalText(_ row: Int, _ column: Int) -> String? {
        bytes(row, column).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A time column (unix milliseconds), nil for NULL.
    package func date(_ row: Int, _ column: Int) -> Date? {
        optionalInt(row, column).map { Date(timeIntervalSince1970: TimeInterval($0) / 1000) }
    }
}

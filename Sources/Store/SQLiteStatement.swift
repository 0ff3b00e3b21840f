import CSQLite
import Foundation

/// SQLite's `SQLITE_TRANSIENT`: tells `sqlite3_bind_*` to copy the value. It is a C cast macro that
/// Swift cannot import, so it is rebuilt here (as GRDB does).

let SQLITE_TRANSIENT = unsafeBitCast(OpaquePointer(bitPattern: -1), to: sqlite3_destructor_type.self)

/// One prepared statement, finalized when the object goes away (so a thrown error never leaks it).
///
/// Not `Sendable`: it belongs to its connection's thread.
package final class SQLiteStatement {
    let handle: OpaquePointer
    unowned let connection: SQLiteConnection
    /// The SQL text, for error messages.
    package let sql: String

    init(connection: SQLiteConnection, sql: String) throws {
        var statement: OpaquePointer?
        let code = sqlite3_prepare_v3(connection.handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard code == SQLITE_OK, let statement else {
            sqlite3_finalize(statement)
            throw connection.error(code, sql: sql)
        }
        self.handle = statement
        self.connection = connection
        self.sql = sql
    }

    deinit { sqlite3_finalize(handle) }

    /// Resets the statement and clears its bindings, ready for new values.
    package func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    // MARK: - Binding (1-based indexes, as SQLite counts them)

    /// Binds text.
    package func bind(_ index: Int32, _ value: String) {
        sqlite3_bind_text(handle, index, value, -1, SQLITE_TRANSIENT)
    }

    /// Binds an integer.
    package func bind(_ index: Int32, _ value: Int64) { sqlite3_bind_int64(handle, index, value) }

    /// Binds an integer.
    package func bind(_ index: Int32, _ value: Int) { sqlite3_bind_int64(handle, index, Int64(value)) }

    /// Binds a date as whole unix milliseconds (the unit of every time column of the store, see StoreSchema), or NULL.
    /// Milliseconds, not seconds: a lease of N seconds must last N seconds, not up to N + 1.
    package func bind(_ index: Int32, _ value: Date?) {
        if let value {
            sqlite3_bind_int64(handle, index, Self.milliseconds(value))
        } else {
            sqlite3_bind_null(handle, index)
        }
    }

    /// A date as whole unix milliseconds, rounded down: a stored time is never later than the time it
    /// records, so "refreshed before" and "lease ended" compare conservatively, as with whole seconds before.
    package static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
    }

    /// Binds optional text, or NULL.
    package func bind(_ index: Int32, _ value: String?) {
        if let value { bind(index, value) } else { sqlite3_bind_null(handle, index) }
    }

    /// Binds a blob, or NULL.
    package func bind(_ index: Int32, _ value: [UInt8]?) {
        guard let value else { sqlite3_bind_null(handle, index); return }
        _ = value.withUnsafeBytes { buffer in
            // A zero-length blob needs a non-null pointer to stay a blob rather than NULL.
            sqlite3_bind_blob(
                handle, index, buffer.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(buffer.count),
                SQLITE_TRANSIENT)
        }
    }

    /// Binds a blob from raw memory, copied by SQLite.
    package func bind(_ index: Int32, bytes: UnsafeRawBufferPointer) {
        sqlite3_bind_blob(
            handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), SQLITE_TRANSIENT)
    }

    /// Binds a blob from raw memory without copying it: `bytes` must stay valid and unchanged until the
    /// statement is run (``run()`` resets it and clears the binding). For hot loops that bind many rows
    /// from one buffer they hold alive across the loop.
    package func bindUncopied(_ index: Int32, bytes: UnsafeRawBufferPointer) {
        // SQLITE_STATIC (a null destructor): SQLite reads the caller's memory in place.
        sqlite3_bind_blob(handle, index, bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(bytes.count), nil)
    }

    // MARK: - Stepping

    /// Steps once: true when a row is available, false when the statement is done.
    /// - throws: ``SQLiteError`` with this statement's SQL (never its bound values).
    package func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code: throw connection.error(code, sql: sql)
        }
    }

    /// Runs a statement that returns no rows, then resets it.
    package func run() throws {
        defer { reset() }
        while try step() {}
    }

    // MARK: - Columns (0-based, as SQLite counts them)

    /// An integer column.
    package func int(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

    /// Whether a column is NULL.
    package func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    /// A text column ("" for NULL).
    package func text(_ column: Int32) -> String {
        String(decoding: textBytes(column), as: UTF8.self)
    }

    /// A text column's UTF-8 bytes without copying (empty for NULL); valid only until the next step or reset.
    package func textBytes(_ column: Int32) -> UnsafeRawBufferPointer {
        let pointer = sqlite3_column_text(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }

    /// A blob column's bytes without copying (empty for NULL); valid only until the next step or reset.
    package func blobBytes(_ column: Int32) -> UnsafeRawBufferPointer {
        let pointer = sqlite3_column_blob(handle, column)
        let count = Int(sqlite3_column_bytes(handle, column))
        return UnsafeRawBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
    }

    /// Whether a text column equals `text`, compared as bytes without making a String.
    package func textEquals(_ column: Int32, _ text: String) -> Bool {
        let bytes = textBytes(column)
        var text = text
        return text.withUTF8 { utf8 in
            utf8.count == bytes.count
                && (bytes.isEmpty || memcmp(utf8.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        }
    }

    /// An optional text column.
    package func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    /// An optional date column stored as unix milliseconds.
    package func date(_ column: Int32) -> Date? {
        isNull(column) ? nil : Date(timeIntervalSince1970: TimeInterval(int(column)) / 1000)
    }

    /// A blob column copied out, or nil for NULL.
    package func blob(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        return withBlob(column) { Array($0) }
    }

    /// Calls `body` with a blob column's bytes without copying; valid only until the next step or reset.
    package func withBlob<R>(_ column: Int32, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(blobBytes(column))
    }

    /// How many rows the last INSERT, UPDATE or DELETE changed.
    package var changes: Int { Int(sqlite3_changes(connection.handle)) }
}

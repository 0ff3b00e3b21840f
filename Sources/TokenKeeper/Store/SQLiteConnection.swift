import CSQLite
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One SQLite database connection, closed when the object goes away.
///
/// Opening turns on extended result codes, a busy timeout, WAL journaling with `synchronous=NORMAL`
/// (durable at every checkpoint and safe against corruption on power loss, the usual WAL trade-off;
/// commits that must survive a power cut at once, such as refreshed tokens, are synced by ``WALGroupSync``),
/// and foreign keys. A new database file is created with mode 0600 inside a 0700 folder, and an
/// existing one that group or others can read is refused (I6). Read-only connections never write
/// the database file, so a dry run leaves it byte-identical (I5).
///
/// Not `Sendable`: a connection belongs to one thread at a time. Share it through one serializing
/// owner only.
package final class SQLiteConnection {
    let handle: OpaquePointer
    /// The database file.
    package let path: String
    /// Whether the connection was opened read-only.
    package let isReadOnly: Bool
    private var statements: [String: SQLiteStatement] = [:]

    /// Opens (or, unless read-only, creates) the database at `path`.
    /// - Parameter busyTimeout: how long a statement waits for another connection's lock before
    ///   failing with `SQLITE_BUSY`.
    /// - throws: ``InsecurePermissionsError`` for a group- or world-readable file, ``SQLiteError`` when
    ///   SQLite cannot open it.
    package init(path: String, readOnly: Bool = false, busyTimeout: TimeInterval = 5) throws {
        self.path = path
        self.isReadOnly = readOnly
        let exists = PrivateFiles.exists(path)
        if exists {
            try PrivateFiles.requirePrivate(path, isDirectory: false)
        } else if readOnly {
            throw FileSystemError(path: path, operation: "open store", code: ENOENT,
                                  advice: "Check --store (or the spec's store.sqlite); a dry run never creates a store.")
        } else {
            let folder = (path as NSString).deletingLastPathComponent
            if !folder.isEmpty, !PrivateFiles.exists(folder) { try PrivateFiles.createPrivateDirectory(folder) }
            // Create the file 0600 first; SQLite gives its -wal and -shm files the same mode.
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, PrivateFiles.fileMode)
            guard fd >= 0 else { throw FileSystemError(path: path, operation: "create store", code: errno) }
            close(fd)
        }
        var connection: OpaquePointer?
        // A read-only connection still opens the file read-write, with `query_only` on: SQLite refuses
        // every write, and because the connection may then clean up after itself, closing it removes the
        // -wal and -shm files it needed to read a WAL database. An SQLITE_OPEN_READONLY connection would
        // leave both behind, so the store's folder would not be byte-identical after a dry run (I5).
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            // "Whether or not an error occurs when it is opened, resources associated with the database
            // connection handle should be released by passing it to sqlite3_close()" (sqlite.org/c3ref/open.html).
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(connection)
            throw SQLiteError(path: path, code: code, message: message, sql: nil)
        }
        handle = connection
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, Int32(busyTimeout * 1000))
        if readOnly {
            try execute("PRAGMA query_only=ON")
        } else {
            if !exists {
                // 16 KiB pages for a new store: a sealed token row is about 1.4 KB, so a page holds 11 rows
                // instead of 2, and a rotation writes a third fewer bytes in a quarter of the system calls.
                // Only possible before the first table exists (and before WAL is on).
                try execute("PRAGMA page_size=16384")
            }
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=NORMAL")
        }
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more SQL statements that take no parameters.
    package func execute(_ sql: String) throws {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw error(code, sql: sql) }
    }

    /// A prepared statement for `sql`, cached for the life of the connection (so hot loops never
    /// prepare twice). The returned statement is reset and has no bindings.
    package func cached(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        let statement = try SQLiteStatement(connection: self, sql: sql)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`, so the write lock is taken up front and
    /// a busy database is met at BEGIN, where the busy timeout applies). Commits when `body` returns,
    /// rolls back and rethrows the first error when it throws.
    package func writeTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    /// Runs `body` in a read transaction, so every query in it sees one snapshot.
    package func readTransaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN DEFERRED")
        defer { try? execute("COMMIT") }
        return try body()
    }

    /// The value of the first column of the first row of `sql`, as an integer.
    package func scalar(_ sql: String) throws -> Int64 {
        let statement = try cached(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.int(0) : 0
    }

    /// An error for `code`, with SQLite's message and the SQL (never bound values).
    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(path: path, code: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : code,
                    message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

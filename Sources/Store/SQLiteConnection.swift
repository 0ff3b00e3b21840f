import CSQLite
import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// One SQLite database connection, closed when the object goes away.
///
/// Opening turns on extended result codes, a busy timeout, WAL journaling with `synchronous=NORMAL`
/// (durable at every checkpoint and safe against corruption on power loss, the usual WAL trade-off;
/// commits that must survive a power cut at once, such as refreshed tokens, are synced by ``WALGroupSync``),
/// and foreign keys. It never creates a database (``SQLiteTokenStore/create(at:busyTimeout:)`` does, under a
/// temporary name); a file that group or others can read is refused (I6), and so is one that belongs
/// to another user, or sits in a folder others can write (issue 10). Read-only connections never
/// write the database file, so a dry run leaves it byte-identical (I5).
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

    /// How a connection comes to its database file.
    package enum Opening: Sendable {
        /// An existing store, to read and write.
        case readWrite
        /// An existing store, never written (dry runs, `status`, listings); on a read-only folder or
        /// mount it is opened as immutable, which needs no -wal or -shm file.
        case readOnly
        /// A fresh empty file that ``SQLiteTokenStore/create(at:busyTimeout:)`` made under a temporary
        /// name in a folder it has checked: gets the page size and WAL mode of a new store.
        case newFile
    }

    /// Opens the existing database at `path` (never creates one: see ``SQLiteTokenStore/create(at:busyTimeout:)``).
    /// - Parameter busyTimeout: how long a statement waits for another connection's lock before
    ///   failing with `SQLITE_BUSY`.
    /// - throws: ``StoreError`` for a missing or empty file or a read-only folder, ``InsecurePermissionsError``
    ///   for a group- or world-readable file, ``WritableStateFolderError`` and ``ForeignOwnerError`` for a folder
    ///   or file others could swap or that belongs to another user, ``SQLiteError`` when SQLite cannot open it.
    package convenience init(path: String, readOnly: Bool = false, busyTimeout: TimeInterval = 5) throws {
        try self.init(path: path, opening: readOnly ? .readOnly : .readWrite, busyTimeout: busyTimeout)
    }

    /// Has a connection that finds the store locked try again every millisecond, up to `milliseconds`.
    ///
    /// SQLite's own busy timeout sleeps longer and longer between tries (up to 100 ms), so a connection
    /// waiting for the write lock behind a rotation, whose writer takes the lock again a moment after each
    /// commit, could miss every gap and wait out the whole walk (a `token access` waited 1.7 s behind a
    /// 1.8 s rotation of a million tokens). Tried every millisecond, it finds the gap the rotation leaves
    /// after each transaction (`TokenRewrapper.gapForOtherWriters`, in Custody).
    private static func waitForLocks(_ handle: OpaquePointer, milliseconds: Int) {
        sqlite3_busy_handler(
            handle,
            { limit, tries in
                // `tries` counts the earlier calls for this lock; each waited a millisecond (or a little more).
                guard Int(tries) < Int(bitPattern: limit) else { return 0 }
                usleep(1_000)
                return 1
            }, UnsafeMutableRawPointer(bitPattern: max(1, milliseconds)))
    }

    /// SQLite's memory statistics switched off once per process, before the first connection opens:
    /// they cost a global mutex on every allocation SQLite makes (a rotation makes several per row).
    private static let statisticsOff: Int32 = tokenkeeper_sqlite3_disable_memstatus()

    /// Opens `path` as `opening` says.
    package init(path: String, opening: Opening, busyTimeout: TimeInterval = 5) throws {
        self.path = path
        self.isReadOnly = opening == .readOnly
        var target = path
        var flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW
        var immutable = false
        if opening != .newFile {
            let folder = Self.folder(of: path)
            try StateOwnership.requireSafeFolder(folder)
            try Self.requireStoreFile(path)
            // SQLITE_OPEN_NOFOLLOW refuses a link anywhere in the path, so SQLite is given the folder's real
            // path: a state folder that is a link (a mounted volume) is fine; a store file that is one is not.
            guard let real = realpath(folder, nil) else {
                throw FileSystemError(path: folder, operation: "resolve folder", code: errno)
            }
            defer { free(real) }
            target = String(cString: real) + "/" + (path as NSString).lastPathComponent
            if StateOwnership.isReadOnlyFolder(folder) {
                guard opening == .readOnly else { throw StoreError.readOnlyFolder(path: path, folder: folder) }
                flags = SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW
                var log = stat()
                if lstat(path + "-wal", &log) != 0 || log.st_size == 0 {
                    // Nothing waits in a write-ahead log, and nobody can write the store here: it is opened as
                    // immutable, so SQLite reads the file as it is, without the -shm file WAL mode otherwise needs.
                    target =
                        "file:" + (target.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? target)
                        + "?immutable=1"
                    flags |= SQLITE_OPEN_URI
                    immutable = true
                }
                // Otherwise the log holds committed changes not yet in the file: SQLite reads them through its
                // read-only WAL support (which needs the -shm file beside it), so nothing committed is missed.
            }
        }
        _ = Self.statisticsOff
        var connection: OpaquePointer?
        // A read-only connection on a writable folder still opens the file read-write, with `query_only` on:
        // SQLite refuses every write, and because the connection may then clean up after itself, closing it
        // removes the -wal and -shm files it needed to read a WAL database. An SQLITE_OPEN_READONLY connection
        // would leave both behind, so the store's folder would not be byte-identical after a dry run (I5).
        let code = sqlite3_open_v2(target, &connection, flags, nil)
        guard code == SQLITE_OK, let connection else {
            // "Whether or not an error occurs when it is opened, resources associated with the database
            // connection handle should be released by passing it to sqlite3_close()" (sqlite.org/c3ref/open.html).
            let message = connection.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(connection)
            throw SQLiteError(path: path, code: code, message: message, sql: nil)
        }
        handle = connection
        sqlite3_extended_result_codes(handle, 1)
        Self.waitForLocks(handle, milliseconds: Int(busyTimeout * 1000))
        switch opening {
        case .readOnly:
            if !immutable { try execute("PRAGMA query_only=ON") }
        case .newFile:
            // 16 KiB pages for a new store: a sealed token row is about 1.4 KB, so a page holds 11 rows
            // instead of 2, and a rotation writes a third fewer bytes in a quarter of the system calls.
            // Only possible before the first table exists (and before WAL is on).
            try execute("PRAGMA page_size=16384")
            fallthrough
        case .readWrite:
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=NORMAL")
        }
        try execute("PRAGMA foreign_keys=ON")
    }

    /// The folder a store file lives in (`.` for a bare name).
    static func folder(of path: String) -> String {
        let folder = PathText.parent(of: path)
        return folder.isEmpty ? "." : folder
    }

    /// Checks the store file before SQLite opens it: it exists, is a plain non-empty file (not a link)
    /// that only this user can read and that belongs to this user, and so are its -wal and -shm files.
    /// An empty file is never taken for a new store: a store is made only by ``SQLiteTokenStore/create(at:busyTimeout:)``.
    private static func requireStoreFile(_ path: String) throws {
        var info = stat()
        guard lstat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { throw StoreError.missing(path: path) }
            throw FileSystemError(path: path, operation: "open store", code: code)
        }
        for companion in [path, path + "-wal", path + "-shm"] {
            guard lstat(companion, &info) == 0 else { continue }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                throw FileSystemError(
                    path: companion, operation: "open store", code: ELOOP,
                    advice: "It is a symbolic link or not a plain file; tokenkeeper opens only the store's own files. "
                        + "Give the store's real path (a linked folder is fine), and check who can write its folder.")
            }
            try PrivateFiles.requirePrivate(companion, isDirectory: false)
            try StateOwnership.requireOwned(companion)
            if companion == path, info.st_size == 0 { throw StoreError.empty(path: path) }
        }
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

    /// The row id of the last row this connection inserted.
    package var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// The value of the first column of the first row of `sql`, as an integer.
    package func scalar(_ sql: String) throws -> Int64 {
        let statement = try cached(sql)
        defer { statement.reset() }
        return try statement.step() ? statement.int(0) : 0
    }

    /// An error for `code`, with SQLite's message and the SQL (never bound values).
    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(
            path: path, code: sqlite3_extended_errcode(handle) != 0 ? sqlite3_extended_errcode(handle) : code,
            message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }
}

@available(*, unavailable)
extension SQLiteConnection: Sendable {}

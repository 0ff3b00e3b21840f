import Foundation
import TokenKeeper

#if canImport(Glibc)
    import Glibc
#endif

/// A local PostgreSQL server for the PostgreSQL rotation benchmark, with the server's default settings.
///
/// `initdb` makes a cluster in a private folder under /tmp and `pg_ctl` starts it listening only on a Unix
/// socket in that folder (no TCP port), as Tests/TokenKeeperTests/Support/PostgresTestServer.swift does,
/// but without the tests' shortcuts: fsync, synchronous_commit and full_page_writes keep their defaults,
/// so the figures are those of a durable server. When the benchmark runs as root the server runs as the
/// unprivileged user `tokenkeeper-pg` (scripts/setup creates it; PostgreSQL refuses root).
///
/// ``stop()`` stops the server and removes the folder; the caller defers it. A watchdog in its own session
/// does the same as soon as the benchmark process ends, however it ends (a crash, SIGKILL, Ctrl-C).
final class PostgresBenchServer {
    /// The cluster (`data/`), its log and its socket.
    let folder: String
    /// PostgreSQL's server programs.
    let binaries: String
    /// The superuser `initdb` makes (trusted on the socket, which only its owner and root can open).
    static let superuser = "tokenkeeper"
    /// The OS user the server runs as when the benchmark runs as root.
    static let serviceUser = "tokenkeeper-pg"
    /// The settings printed with the figures (all at the server's defaults).
    static let reportedSettings = [
        "server_version", "shared_buffers", "synchronous_commit", "fsync", "full_page_writes", "wal_level",
        "max_wal_size", "checkpoint_timeout",
    ]

    /// Creates the cluster and starts the server (each step bounded to 60 s).
    /// - throws: ``BenchError`` naming the step that failed and what to do.
    init() throws {
        binaries = try Self.findBinaries()
        var template = Array("/tmp/tokenkeeper-pg-bench-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw BenchError("cannot create a folder in /tmp for the PostgreSQL server")
        }
        folder = String(cString: made)
        var prefix: [String] = []
        if geteuid() == 0 {
            guard let account = getpwnam(Self.serviceUser) else {
                throw BenchError(
                    "the benchmark runs as root and PostgreSQL refuses root; the user \(Self.serviceUser) is missing: run scripts/setup"
                )
            }
            guard chown(folder, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw BenchError("cannot hand \(folder) to \(Self.serviceUser)")
            }
            prefix = [
                "/usr/bin/setpriv", "--reuid=\(Self.serviceUser)", "--regid=\(Self.serviceUser)", "--clear-groups",
                "--",
            ]
        }
        startWatchdog()
        do {
            try run(
                prefix + [
                    binaries + "/initdb", "-D", folder + "/data", "-U", Self.superuser, "--auth=trust",
                    "--encoding=UTF8", "--no-locale",
                ], step: "initdb")
            // Only where to listen: every other setting is the server's default.
            let settings = [
                "listen_addresses=''", "unix_socket_directories='\(folder)'", "unix_socket_permissions=0700",
            ]
            try run(
                prefix + [
                    binaries + "/pg_ctl", "-D", folder + "/data", "-l", folder + "/log", "-w", "-t", "60", "-o",
                    settings.map { "-c \($0)" }.joined(separator: " "), "start",
                ], step: "pg_ctl start")
        } catch {
            stop()
            throw error
        }
    }

    /// A connection string for `database` (the socket folder, no password: the server trusts its socket).
    func connectionString(database: String) -> String {
        "host=\(folder) dbname=\(database) user=\(Self.superuser)"
    }

    /// An administrative session on `database` (statements may take up to an hour: VACUUM of a large table).
    func admin(_ database: String = "postgres") throws -> PostgresConnection {
        try PostgresConnection(
            connectionString: connectionString(database: database), location: "benchmark server", readOnly: false,
            statementTimeout: 3_600)
    }

    /// Creates an empty database.
    func createDatabase(_ name: String) throws {
        try admin().execute("CREATE DATABASE \(name)", purpose: "create the database \(name)")
    }

    /// The values of ``reportedSettings``, as the server shows them.
    func settings() throws -> [(name: String, value: String)] {
        let session = try admin()
        return try Self.reportedSettings.map { name in
            (name, try session.query("SELECT current_setting($1)", [.text(name)], purpose: "read \(name)").text(0, 0))
        }
    }

    /// Writes every dirty buffer out, so the next timed phase does not pay for the previous one's writes.
    func checkpoint() throws {
        try admin().execute("CHECKPOINT", purpose: "checkpoint")
    }

    /// Stops the server (fast shutdown, bounded) and removes its folder. Safe to call more than once.
    func stop() {
        if FileManager.default.fileExists(atPath: folder + "/data/postmaster.pid") {
            let prefix =
                geteuid() == 0
                ? [
                    "/usr/bin/setpriv", "--reuid=\(Self.serviceUser)", "--regid=\(Self.serviceUser)", "--clear-groups",
                    "--",
                ]
                : []
            try? run(
                prefix + [binaries + "/pg_ctl", "-D", folder + "/data", "-m", "fast", "-w", "-t", "60", "stop"],
                step: "pg_ctl stop")
        }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// Runs one server program from the folder, its output in `folder/<step>.out`; throws with that output
    /// and the server log's end when it fails or takes more than 90 s (it is then killed).
    private func run(_ command: [String], step: String) throws {
        let output = folder + "/" + step.replacingOccurrences(of: " ", with: "-") + ".out"
        // sh enters the folder (as root if need be), then execs the program (dropping to the service user).
        let pid = try Self.spawn(["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", folder] + command, output: output)
        let deadline = Date().addingTimeInterval(90)
        var status: Int32 = 0
        var exited = false
        while Date() < deadline {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid || done < 0 {
                exited = done == pid
                break
            }
            usleep(20_000)
        }
        if !exited {
            kill(pid, SIGKILL)
            _ = waitpid(pid, &status, 0)
        }
        guard exited, (status & 0x7F) == 0, (status >> 8) & 0xFF == 0 else {
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""
            throw BenchError(
                "PostgreSQL's \(step) failed (wait status \(status)\(exited ? "" : ", killed after 90 s")): "
                    + "\(printed.suffix(1_500))\n\(log.suffix(1_500))")
        }
    }

    /// A process in its own session that waits for this one to end, then stops the server at once
    /// (SIGQUIT to the postmaster, up to 10 s, then SIGKILL) and removes the folder.
    private func startWatchdog() {
        let script = """
            while kill -0 \(getpid()) 2>/dev/null; do sleep 0.5; done
            pid=$(head -n 1 '\(folder)/data/postmaster.pid' 2>/dev/null)
            if [ -n "$pid" ]; then
              kill -QUIT "$pid" 2>/dev/null
              i=0; while [ $i -lt 40 ] && kill -0 "$pid" 2>/dev/null; do sleep 0.25; i=$((i+1)); done
              kill -KILL "$pid" 2>/dev/null
            fi
            rm -rf '\(folder)'
            """
        _ = try? Self.spawn(["/bin/sh", "-c", script], output: "/dev/null", newSession: true)
    }

    /// Starts `command` with posix_spawn (standard input /dev/null, standard output and error appended to
    /// `output`, no other descriptor of this process), in a session of its own if `newSession`. Not
    /// Foundation's `Process`: it learns of exits through the main thread's run loop, which the benchmark holds.
    private static func spawn(_ command: [String], output: String, newSession: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // The server lives past this call: it must not hold the write end of a MeasuredProcess pipe.
        // glibc's posix_spawn_file_actions_addclosefrom_np (2.34 and later; Swift does not import it).
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // 0x80: glibc's POSIX_SPAWN_SETSID, which Swift does not import.
        if newSession { posix_spawnattr_setflags(&attributes, 0x80) }
        let arguments = command.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, command[0], &actions, &attributes, arguments, environ)
        guard result == 0 else { throw BenchError("cannot start \(command[0]): error \(result)") }
        return pid
    }

    /// `TOKENKEEPER_PG_BIN`, else the newest /usr/lib/postgresql/N/bin with `initdb` (Debian's `postgresql`).
    private static func findBinaries() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["TOKENKEEPER_PG_BIN"], !configured.isEmpty {
            return configured
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        guard
            let found = versions.map({ "/usr/lib/postgresql/\($0)/bin" }).first(where: {
                FileManager.default.isExecutableFile(atPath: $0 + "/initdb")
            })
        else {
            throw BenchError(
                "no PostgreSQL server programs (initdb) in /usr/lib/postgresql/*/bin: run scripts/setup or set TOKENKEEPER_PG_BIN"
            )
        }
        return found
    }
}

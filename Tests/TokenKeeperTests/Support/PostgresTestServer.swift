import Foundation

@testable import PostgresClient
@testable import Store

/// A real PostgreSQL server for the tests, started on first use and shared by every test of the process,
/// with a fresh database per test (``createDatabase()``).
///
/// `initdb` makes a cluster in a private temporary folder and `pg_ctl` starts it listening only on a Unix
/// socket in that folder (no TCP port, no system service). PostgreSQL refuses to run as root, so when the
/// tests run as root (CI) the server runs as the unprivileged user `tokenkeeper-pg` that `scripts/setup`
/// creates. A watchdog (its own session, so a Ctrl-C of the tests does not kill it) stops the server and
/// removes the folder as soon as the test process ends, however it ends. Durability settings are off
/// (`fsync`, test data only). Every wait is bounded. When the server cannot start, every test that needs
/// it fails with the reason: the PostgreSQL tests never silently skip.
///
/// A test that stops or restarts the server starts one of its own (``dedicated()``), the same way, and
/// stops it when done (``stop()``; else its watchdog does at the end of the process).
final class PostgresTestServer: Sendable {
    /// The server's folder: the cluster in `data/`, its log, and its socket.
    let folder: String
    /// The folder of the server programs.
    private let bin: String
    /// What runs a server program as the service user when the tests run as root (empty otherwise).
    private let prefix: [String]
    /// The superuser `initdb` made.
    static let superuser = "tokenkeeper"
    /// The OS user the server runs as when the tests run as root.
    static let serviceUser = "tokenkeeper-pg"

    private init(folder: String, bin: String, prefix: [String]) {
        self.folder = folder
        self.bin = bin
        self.prefix = prefix
    }

    /// The server of this test process, started on first use; throws the reason it could not start.
    static func shared() throws -> PostgresTestServer { try started.get() }

    /// A server of the caller's own (a new cluster, socket and watchdog), for a test that stops or restarts
    /// it; the caller stops it with ``stop()``.
    static func dedicated() throws -> PostgresTestServer { try start() }

    /// Restarts the server (`pg_ctl restart -m fast`: every session is ended, running transactions are rolled
    /// back, and the server comes back on the same socket), waiting until it accepts connections again.
    func restart() throws {
        try control(
            "pg_ctl", ["-D", folder + "/data", "-l", folder + "/log", "-m", "fast", "-w", "-t", "30", "restart"],
            timeout: 60)
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`) and removes its folder.
    func stop() {
        try? control("pg_ctl", ["-D", folder + "/data", "-m", "immediate", "-w", "-t", "30", "stop"], timeout: 60)
        try? FileManager.default.removeItem(atPath: folder)
    }

    private static let started: Result<PostgresTestServer, any Error> = Result { try start() }

    /// A connection string for `database` on this server (a test secret: the server trusts its socket).
    func connectionString(database: String) -> String {
        "host=\(folder) dbname=\(database) user=\(Self.superuser)"
    }

    /// Creates a new, empty database with a random name and returns the name.
    func createDatabase() throws -> String {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        let admin = try PostgresConnection(
            connectionString: connectionString(database: "postgres"), location: "test server",
            readOnly: false, statementTimeout: 60)
        try admin.execute("CREATE DATABASE \(name)", purpose: "create a test database")
        return name
    }

    /// The folder of PostgreSQL's server programs: `TOKENKEEPER_PG_BIN`, else the newest
    /// /usr/lib/postgresql/N/bin that has `initdb` (where Debian's `postgresql` package puts them).
    static func binaries() throws -> String {
        if let configured = ProcessInfo.processInfo.environment["TOKENKEEPER_PG_BIN"], !configured.isEmpty {
            return configured
        }
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? [])
            .compactMap(Int.init).sorted(by: >)
        let candidates = versions.map { "/usr/lib/postgresql/\($0)/bin" }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0 + "/initdb") })
        else {
            throw ServerFailed(
                reason: "no PostgreSQL server programs (initdb) in /usr/lib/postgresql/*/bin: run scripts/setup "
                    + "(apt package postgresql) or set TOKENKEEPER_PG_BIN")
        }
        return found
    }

    /// initdb, pg_ctl start, watchdog.
    private static func start() throws -> PostgresTestServer {
        let bin = try binaries()
        var template = Array("/tmp/tokenkeeper-pg-XXXXXX".utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw ServerFailed(reason: "cannot create a folder in /tmp")
        }
        let folder = String(cString: made)
        var prefix: [String] = []
        if geteuid() == 0 {
            guard let account = getpwnam(serviceUser) else {
                throw ServerFailed(
                    reason:
                        "the tests run as root and PostgreSQL refuses root; the user \(serviceUser) is missing: run scripts/setup"
                )
            }
            guard chown(folder, account.pointee.pw_uid, account.pointee.pw_gid) == 0 else {
                throw ServerFailed(reason: "cannot hand \(folder) to \(serviceUser)")
            }
            prefix = ["/usr/bin/setpriv", "--reuid=\(serviceUser)", "--regid=\(serviceUser)", "--clear-groups", "--"]
        }
        let server = PostgresTestServer(folder: folder, bin: bin, prefix: prefix)
        server.startWatchdog()
        try server.control(
            "initdb",
            ["-D", folder + "/data", "-U", superuser, "--auth=trust", "--encoding=UTF8", "--no-locale", "--no-sync"],
            timeout: 60)
        let settings = [
            "listen_addresses=''", "unix_socket_directories='\(folder)'", "unix_socket_permissions=0700", "fsync=off",
            "synchronous_commit=off", "full_page_writes=off", "max_connections=200",
        ]
        try server.control(
            "pg_ctl",
            [
                "-D", folder + "/data", "-l", folder + "/log", "-w", "-t", "30",
                "-o", settings.map { "-c \($0)" }.joined(separator: " "), "start",
            ], timeout: 60)
        return server
    }

    /// Runs one of the server programs in the server's folder (as the service user when root), waiting up to
    /// `timeout` seconds; throws its output and the server log's end unless it exits 0.
    private func control(_ program: String, _ arguments: [String], timeout: TimeInterval) throws {
        let output = folder + "/\(program).out"
        // sh changes into the folder (as root if need be), then execs the program (dropping to the service user).
        let command =
            ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", folder] + prefix + [bin + "/" + program] + arguments
        let pid = try Self.spawn(command, output: output, newSession: false)
        let status = Self.waitForExit(pid, timeout: timeout)
        guard status == 0 else {
            let printed = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: folder + "/log", encoding: .utf8)) ?? ""
            let outcome = status.map { "exited \($0)" } ?? "did not finish in \(Int(timeout)) s"
            throw ServerFailed(reason: "\(program) \(outcome): \(printed.suffix(2_000))\n\(log.suffix(2_000))")
        }
    }

    /// A process in its own session that waits (polling once every half second) for this test process to
    /// end, then stops the server at once (SIGQUIT to the postmaster, up to 10 s) and removes the folder.
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

    /// Starts `command` (stdin /dev/null, stdout and stderr appended to `output`), in a session of its own
    /// if `newSession`, with posix_spawn: Foundation's `Process` waits for exits through Dispatch, which the
    /// tests' tasks may hold while they all wait for this server.
    private static func spawn(_ command: [String], output: String, newSession: Bool) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else of this process goes along: the watchdog and the server live as long as the tests, and
        // an inherited write end of another test's output pipe would keep that test waiting for its end forever.
        closeInheritedDescriptors(&actions)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // 0x80: glibc's POSIX_SPAWN_SETSID, which Swift does not import.
        if newSession { posix_spawnattr_setflags(&attributes, 0x80) }
        let arguments = command.map { strdup($0) } + [nil]
        defer { for argument in arguments { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, command[0], &actions, &attributes, arguments, environ)
        guard result == 0 else { throw ServerFailed(reason: "cannot start \(command[0]): error \(result)") }
        return pid
    }

    /// Adds to `actions` the closing of every descriptor from 3 up: glibc's
    /// `posix_spawn_file_actions_addclosefrom_np` (2.34 and later; Swift does not import it, so it is
    /// looked up by name), else one close for each descriptor open now.
    private static func closeInheritedDescriptors(_ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
            return
        }
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap({ Int32($0) }) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
    }

    /// The exit status of `pid`, polled every 20 ms; nil after `timeout` seconds (the process is then killed).
    private static func waitForExit(_ pid: pid_t, timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while Date() < deadline {
            let done = waitpid(pid, &status, WNOHANG)
            if done == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            if done < 0 { return -1 }
            usleep(20_000)
        }
        kill(pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
        return nil
    }

    /// Why the test server did not start.
    struct ServerFailed: Error, CustomStringConvertible {
        var reason: String
        var description: String { "the PostgreSQL test server did not start: \(reason)" }
    }
}

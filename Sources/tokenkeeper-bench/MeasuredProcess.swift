import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A child process run to completion with its wall time, CPU time and peak resident memory.
///
/// The child runs under GNU time (`/usr/bin/time -f "%U %S %M"`), which forks before it starts the command.
/// Spawning the command directly would not do: posix_spawn shares this process's memory until exec
/// (vfork), and Linux carries that memory's high-water mark into the child's ru_maxrss, so every
/// child would seem to use at least as much as this benchmark after seeding.
struct MeasuredProcess {
    /// The exit status (or 128 + signal).
    var status: Int32
    /// Seconds from spawn to exit.
    var seconds: Double
    /// Peak resident set size in MiB (the child's own maximum resident set size, from GNU time).
    var peakRSSMiB: Double
    /// CPU seconds the child spent in user mode and in the kernel (GNU time's %U and %S).
    var userSeconds: Double
    var systemSeconds: Double
    /// What the child printed on standard output.
    var output: String

    /// Runs `arguments[0]` with `arguments[1...]` and `environment` added, capturing standard output
    /// (standard error passes through, so progress and errors stay visible). With `timeout`, GNU time
    /// (and so the child) is killed with SIGKILL after that many seconds, and the call throws.
    static func run(_ arguments: [String], environment: [String: String] = [:], timeout: TimeInterval? = nil) throws
        -> MeasuredProcess
    {
        let memoryReport = NSTemporaryDirectory() + "/tokenkeeper-bench-rss-\(getpid())"
        defer { unlink(memoryReport) }
        let arguments = [timer, "-f", "%U %S %M", "-o", memoryReport] + arguments
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw BenchError("pipe failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe[1], STDOUT_FILENO)
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let started = Date()
        let code = posix_spawnp(&pid, arguments[0], &actions, nil, argv, envp)
        close(pipe[1])
        guard code == 0 else {
            close(pipe[0])
            throw BenchError(
                "cannot start \(arguments[0]): \(String(decoding: Array(UnsafeBufferPointer(start: strerror(code), count: strlen(strerror(code)))).map { UInt8(bitPattern: $0) }, as: UTF8.self))"
            )
        }
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        if let timeout { DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog) }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(pipe[0], &buffer, buffer.count)
            if count > 0 { output += buffer[0..<count] } else if count == 0 || errno != EINTR { break }
        }
        close(pipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        watchdog.cancel()
        let seconds = Date().timeIntervalSince(started)
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        if let timeout, exit == 128 + SIGKILL, seconds >= timeout {
            throw BenchError("\(arguments[5]) did not finish in \(Int(timeout)) s and was killed")
        }
        // GNU time writes "Command exited with non-zero status N" first when the command fails; the figures are last.
        let report = (try? String(contentsOfFile: memoryReport, encoding: .utf8)) ?? ""
        let figures =
            report.split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        guard figures.count == 3 else {
            throw BenchError(
                "\(timer) reported no CPU time and peak memory for \(arguments[5]) (exit \(exit)); install GNU time (apt-get install time)"
            )
        }
        return MeasuredProcess(
            status: exit, seconds: seconds, peakRSSMiB: figures[2] / 1024, userSeconds: figures[0],
            systemSeconds: figures[1],
            output: String(decoding: output, as: UTF8.self))
    }

    /// GNU time, which scripts/bench installs.
    static let timer = "/usr/bin/time"
}

/// A benchmark step that failed, with what to do.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

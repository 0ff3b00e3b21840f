import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process run to completion with its wall time and peak resident memory.
///
/// The child runs under GNU time (`/usr/bin/time -f %M`), which forks before it starts the command.
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
    /// What the child printed on standard output.
    var output: String

    /// Runs `arguments[0]` with `arguments[1...]` and `environment` added, capturing standard output
    /// (standard error passes through, so progress and errors stay visible).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> MeasuredProcess {
        let memoryReport = NSTemporaryDirectory() + "/tokenkeeper-bench-rss-\(getpid())"
        defer { unlink(memoryReport) }
        let arguments = [timer, "-f", "%M", "-o", memoryReport] + arguments
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
            throw BenchError("cannot start \(arguments[0]): \(String(decoding: Array(UnsafeBufferPointer(start: strerror(code), count: strlen(strerror(code)))).map { UInt8(bitPattern: $0) }, as: UTF8.self))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = read(pipe[0], &buffer, buffer.count)
            if count > 0 { output += buffer[0..<count] } else if count == 0 || errno != EINTR { break }
        }
        close(pipe[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let seconds = Date().timeIntervalSince(started)
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        // GNU time writes "Command exited with non-zero status N" first when the command fails; the peak is last.
        let report = (try? String(contentsOfFile: memoryReport, encoding: .utf8)) ?? ""
        guard let kibibytes = report.split(separator: "\n").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw BenchError("\(timer) reported no peak memory for \(arguments[5]) (exit \(exit)); install GNU time (apt-get install time)")
        }
        return MeasuredProcess(status: exit, seconds: seconds, peakRSSMiB: kibibytes / 1024, output: String(decoding: output, as: UTF8.self))
    }

    /// GNU time, which scripts/bench installs.
    static let timer = "/usr/bin/time"
}

/// A benchmark step that failed, with what to do.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process run to completion with its wall time and peak resident memory, read with wait4(2)
/// so the figure is the child's own, not this process's.
struct MeasuredProcess {
    /// The exit status (or 128 + signal).
    var status: Int32
    /// Seconds from spawn to exit.
    var seconds: Double
    /// Peak resident set size in MiB (ru_maxrss).
    var peakRSSMiB: Double
    /// What the child printed on standard output.
    var output: String

    /// Runs `arguments[0]` with `arguments[1...]` and `environment` added, capturing standard output
    /// (standard error passes through, so progress and errors stay visible).
    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> MeasuredProcess {
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
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0, errno == EINTR {}
        let seconds = Date().timeIntervalSince(started)
        let exit = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return MeasuredProcess(status: exit, seconds: seconds, peakRSSMiB: Double(usage.ru_maxrss) / 1024,
                               output: String(decoding: output, as: UTF8.self))
    }
}

/// A benchmark step that failed, with what to do.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

import Foundation

/// What a finished child process left: its exit status and everything it printed.
struct ProcessResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
    /// Both streams, for searching everything the process printed (for example for leaked secrets).
    var output: String { stdout + stderr }
}

/// Runs a program to completion with a time limit, feeding `stdin` and capturing both output streams.
///
/// - Parameters:
///   - executable: absolute path of the program.
///   - arguments: its arguments.
///   - environment: variables added to (or replacing) this process's environment.
///   - stdin: bytes written to its standard input, which is then closed.
///   - timeout: seconds after which the child is killed with SIGKILL and the call throws.
@discardableResult
func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:],
    stdin: String = "", workingDirectory: String? = nil, timeout: TimeInterval = 120
) throws -> ProcessResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
    if let workingDirectory { process.currentDirectoryURL = URL(fileURLWithPath: workingDirectory) }
    let input = Pipe(), output = Pipe(), errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let collector = OutputCollector()
    let group = DispatchGroup()
    for (index, pipe) in [output, errors].enumerated() {
        group.enter()
        DispatchQueue.global().async {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            collector.set(index, data)
            group.leave()
        }
    }
    input.fileHandleForWriting.write(Data(stdin.utf8))
    try? input.fileHandleForWriting.close()
    if group.wait(timeout: .now() + timeout) == .timedOut {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        throw ProcessTimeout(executable: executable, arguments: arguments, seconds: timeout)
    }
    process.waitUntilExit()
    return ProcessResult(status: process.terminationStatus, stdout: collector.text(0), stderr: collector.text(1))
}

/// Runs the built `tokenkeeper` with `arguments`.
@discardableResult
func runTokenKeeper(
    _ arguments: [String], environment: [String: String] = [:], stdin: String = "",
    workingDirectory: String? = nil, timeout: TimeInterval = 120
) throws -> ProcessResult {
    try runProcess(
        TestEnvironment.tokenkeeperExecutable, arguments, environment: environment, stdin: stdin,
        workingDirectory: workingDirectory, timeout: timeout)
}

/// Runs a Python script with the test venv's interpreter.
@discardableResult
func runPython(_ arguments: [String], stdin: String = "", timeout: TimeInterval = 120) throws -> ProcessResult {
    try runProcess(TestEnvironment.python, arguments, stdin: stdin, timeout: timeout)
}

/// A child process that did not finish within its time limit.
struct ProcessTimeout: Error, CustomStringConvertible {
    var executable: String
    var arguments: [String]
    var seconds: TimeInterval
    var description: String { "\(executable) \(arguments.joined(separator: " ")) did not finish in \(seconds) s" }
}

private final class OutputCollector: @unchecked Sendable {
    // Guarded by `lock`; written once per stream from the reader threads.
    private let lock = NSLock()
    private var streams: [Int: Data] = [:]
    func set(_ index: Int, _ data: Data) { lock.withLock { streams[index] = data } }
    func text(_ index: Int) -> String { lock.withLock { String(decoding: streams[index] ?? Data(), as: UTF8.self) } }
}

import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where commands print: results to standard output, diagnostics and progress to standard error.
///
/// Progress lines are drawn in place only when standard error is a terminal; in CI (not a terminal,
/// or `CI` set) commands print one plain line per step, so logs stay quiet and parseable.
///
/// Every line is printed with its control and format characters escaped (``DisplayText``), line
/// breaks and tabs apart: text from outside (a provider's error, a name in a report someone else
/// wrote, a spec value quoted in a diagnostic) can never draw on the terminal or the CI log.

package struct Console: Sendable {
    /// Whether standard error is an interactive terminal (so progress may redraw a line).
    package let isInteractive: Bool

    /// A console bound to the process's standard streams.
    package static func standard() -> Console {
        let environment = ProcessInfo.processInfo.environment
        let ci = environment["CI"].map { !$0.isEmpty && $0 != "false" } ?? false
        return Console(isInteractive: isatty(STDERR_FILENO) == 1 && !ci && environment["TERM"] != "dumb")
    }

    /// Prints a result line to standard output.
    package func out(_ line: String) { write(Self.printable(line) + "\n", to: STDOUT_FILENO) }

    /// Prints a diagnostic line to standard error.
    package func err(_ line: String) {
        if isInteractive { write("\r\u{1B}[K", to: STDERR_FILENO) }
        write(Self.printable(line) + "\n", to: STDERR_FILENO)
    }

    /// Draws a progress line in place on a terminal; does nothing elsewhere (callers print
    /// a summary line per step with ``err(_:)`` instead).
    package func progress(_ line: String) {
        guard isInteractive else { return }
        write("\r\u{1B}[K" + Self.printable(line), to: STDERR_FILENO)
    }

    /// Clears a progress line left on the terminal.
    package func endProgress() {
        guard isInteractive else { return }
        write("\r\u{1B}[K", to: STDERR_FILENO)
    }

    /// `line` with control characters escaped, line breaks and tabs kept.
    static func printable(_ line: String) -> String { DisplayText.escaped(line, keeping: ["\n", "\t"]) }

    private func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = systemWrite(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written <= 0 {
                    if written < 0, errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// `write(2)`, named apart from ``Console``'s own method.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    write(descriptor, buffer, count)
}

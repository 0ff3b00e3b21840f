import Custody
import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// Reading secrets from standard input, never from arguments (arguments show in process lists).

package enum StandardInput {
    /// Reads one secret: all of standard input, without its trailing line break. On a terminal it asks
    /// with `prompt` on standard error and turns echo off while the person types or pastes.
    /// A leading byte order mark and the trailing line break are not part of it.
    /// - throws: ``CustodyError/badTokenInput(_:)`` for empty input, or input that is not one token
    ///   (``RefreshTokenSyntax``: the rule `token import` applies too).
    package static func readSecret(prompt: String, console: Console) throws -> SecretText {
        var bytes: [UInt8]
        if isatty(STDIN_FILENO) == 1 {
            console.err(prompt)
            var original = termios()
            let hasTerminal = tcgetattr(STDIN_FILENO, &original) == 0
            if hasTerminal {
                var silent = original
                silent.c_lflag &= ~tcflag_t(ECHO)
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &silent)
            }
            defer {
                if hasTerminal { var restore = original; tcsetattr(STDIN_FILENO, TCSAFLUSH, &restore); console.err("") }
            }
            bytes = Array((readLine(strippingNewline: true) ?? "").utf8)
        } else {
            bytes = Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        defer { wipe(&bytes) }
        while let last = bytes.last, last == 0x0A || last == 0x0D { bytes.removeLast() }
        // a file saved by a Windows editor
        if bytes.starts(with: ByteOrderMark.bytes) { bytes.removeFirst(ByteOrderMark.bytes.count) }
        guard !bytes.isEmpty else { throw CustodyError.badTokenInput("no token was given on standard input") }
        let text = String(decoding: bytes, as: UTF8.self)
        if let problem = RefreshTokenSyntax.problem(text) { throw CustodyError.badTokenInput("the input \(problem)") }
        return SecretText(text)
    }
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns `errno` values into the system's text, for error messages.
package enum SystemErrorText {
    /// The text `strerror` gives for `code`, with the number, for example `No such file or directory (2)`.
    package static func describe(_ code: Int32) -> String {
        "\(String(cString: strerror(code))) (\(code))"
    }
}

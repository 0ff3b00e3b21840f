#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// The OS account this process runs as, read from its effective user id (`getpwuid_r(geteuid())`),
/// never from `USER` or `LOGNAME`: the environment can say anything, and a container often sets neither.
package enum ProcessAccount {
    /// The account's name, or nil when the user id has no entry in the account database (a container
    /// started with `--user 12345`, for example).
    package static func name() -> String? {
        var entry = passwd()
        var found: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4_096)
        let status = getpwuid_r(geteuid(), &entry, &buffer, buffer.count, &found)
        guard status == 0, found != nil, let name = entry.pw_name else { return nil }
        let text = String(cString: name)
        return text.isEmpty ? nil : text
    }
}

/// No principal is named and the process's account has no name to fall back on.
package struct PrincipalUnknownError: ActionableError {
    /// The effective user id that has no account name.
    package let userID: UInt32

    /// Creates the error for this process's effective user id.
    package init(userID: UInt32 = UInt32(geteuid())) { self.userID = userID }

    package var item: String { "principal" }
    package var problem: String {
        "none is named, and this process's user id \(userID) has no account name to act as (no entry in the account database)"
    }
    package var remedy: String {
        "Name the principal with --principal NAME or TOKENKEEPER_PRINCIPAL (or `principal:` in the job spec); tokenkeeper never makes one up."
    }
    package var exitStatus: ExitStatus { .usage }
}

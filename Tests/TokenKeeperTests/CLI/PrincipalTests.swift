import Foundation
import Testing

@testable import CLI
@testable import Report
@testable import Support

#if canImport(Glibc)
    import Glibc
#endif

/// Who acts when nobody says: the OS account the process runs as (from its user id, never from the
/// environment, never a made-up name such as `admin`, which `vault init` would give every permission).
@Suite struct PrincipalTests {
    /// The name of the account this test process runs as.
    static var account: String { String(cString: getpwuid(geteuid())!.pointee.pw_name) }

    /// Runs tokenkeeper through `env` so that variables can be removed, not only set.
    static func run(
        _ arguments: [String], unset: [String] = ["USER", "LOGNAME", "TOKENKEEPER_PRINCIPAL"], set: [String] = [],
        prefix: [String] = [], workingDirectory: String? = nil
    ) throws -> ProcessResult {
        let envArguments = unset.flatMap { ["-u", $0] } + set + [TestEnvironment.tokenkeeperExecutable] + arguments
        if prefix.isEmpty { return try runProcess("/usr/bin/env", envArguments, workingDirectory: workingDirectory) }
        return try runProcess(
            prefix[0], Array(prefix.dropFirst()) + ["/usr/bin/env"] + envArguments, workingDirectory: workingDirectory)
    }

    @Test func withoutUserOrLognameThePrincipalIsTheProcessesAccountNotAdmin() throws {
        try withTemporaryDirectory { folder in
            let initialized = try Self.run(["vault", "init", folder + "/v"])
            #expect(initialized.status == 0, "\(initialized.stderr)")
            #expect(
                initialized.stderr.contains("Principal '\(Self.account)' has every permission"), "\(initialized.stderr)"
            )
            let key = initialized.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            let policies = try Self.run(
                ["vault", "policy", "show", "--vault", folder + "/v"], set: ["TOKENKEEPER_MASTER_KEY=\(key)"])
            #expect(policies.status == 0, "\(policies.stderr)")
            #expect(policies.stdout.contains(Self.account) && !policies.stdout.contains("admin"))
        }
    }

    @Test func theUserVariableDoesNotNameThePrincipal() throws {
        try withTemporaryDirectory { folder in
            let initialized = try Self.run(["vault", "init", folder + "/v"], set: ["USER=admin", "LOGNAME=admin"])
            #expect(initialized.status == 0, "\(initialized.stderr)")
            #expect(
                initialized.stderr.contains("Principal '\(Self.account)' has every permission"), "\(initialized.stderr)"
            )
        }
    }

    @Test func noNameAndNoAccountNameIsRefusedWithHowToNameAPrincipal() throws {
        let options = GlobalOptions(values: [:], environment: ["USER": "admin"], accountName: nil)
        let error = #expect(throws: PrincipalUnknownError.self) { try options.principal }
        #expect(
            error?.remedy.contains("--principal") == true && error?.remedy.contains("TOKENKEEPER_PRINCIPAL") == true)
        #expect(error?.exitStatus == .usage)
        #expect(
            try GlobalOptions(values: ["principal": ["ops"]], environment: [:], accountName: nil).principal == "ops")
    }

    @Test(.enabled(if: geteuid() == 0, "switching to a user id without an account needs root"))
    func aProcessWhoseUserIdHasNoAccountIsRefusedBeforeItCreatesAVault() throws {
        try withTemporaryDirectory { folder in
            let uid: uid_t = (54_321...54_400).first { getpwuid(uid_t($0)) == nil }.map { uid_t($0) }!
            #expect(chown(folder, uid, uid) == 0)
            let setpriv = ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(uid)", "--clear-groups"]
            let refused = try Self.run(["vault", "init", folder + "/v"], prefix: setpriv)
            #expect(refused.status == 2, "\(refused.stderr)")
            #expect(
                refused.stderr.contains("--principal") && refused.stderr.contains("TOKENKEEPER_PRINCIPAL"),
                "\(refused.stderr)")
            #expect(!FileManager.default.fileExists(atPath: folder + "/v"))
            let named = try Self.run(["vault", "init", folder + "/v", "--principal", "ops"], prefix: setpriv)
            #expect(named.status == 0, "\(named.stderr)")
        }
    }
}

import Foundation
import Spec
import Support
import Vault

#if canImport(Glibc)

    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `tokenkeeper` command line: parses arguments, runs one command, prints errors, exits.
///
/// Every failure ends as `tokenkeeper: error: item: problem. remedy` on standard error and the exit
/// code DESIGN.md fixes (``ExitStatus``). No secret value is ever part of a message (I6).

public enum CommandLineTool {
    /// The version printed by `tokenkeeper --version` and recorded in reports.
    public static let version = ToolVersion.current

    /// The whole command tree.
    package static var root: Command {
        Command(
            "tokenkeeper", abstract: "Keeps OAuth 2.0 refresh tokens encrypted, rotated, refreshed and revoked.",
            discussion: """
                tokenkeeper stores refresh tokens sealed with AES-256-GCM under per-tenant data keys kept in a
                file-backed key vault, and runs jobs (rotate, refresh, revoke) from a YAML-lite job spec.
                """,
            subcommands: CommandCatalog.all)
    }

    /// Runs one command line and exits the process with its ``ExitStatus``, after writing the audit
    /// entries of vault reads still buffered (exit 3 when they cannot be written).
    public static func main(arguments: [String]) async {
        let console = Console.standard()
        var status = await run(arguments: arguments, environment: ProcessInfo.processInfo.environment, console: console)
        for failure in AuditLog.flushAll() {
            console.err(
                "tokenkeeper: error: \((failure as? any ActionableError)?.description ?? "the vault's audit log could not be written")"
            )
            if status == .success { status = .environment }
        }
        exit(status.rawValue)
    }

    /// Runs one command line and returns its exit status, printing to `console`.
    package static func run(arguments: [String], environment: [String: String], console: Console) async -> ExitStatus {
        if arguments == ["--version"] || arguments == ["version"] {
            console.out("tokenkeeper \(version)")
            return .success
        }
        do {
            let parsed = try CommandLineParser.parse(arguments, root: root, environment: environment, console: console)
            guard !parsed.wantsHelp, let body = parsed.command.run else {
                console.out(HelpFormatter.help(for: parsed.command, path: parsed.invocation.path))
                return parsed.wantsHelp || arguments.isEmpty ? .success : .usage
            }
            return try await body(parsed.invocation)
        } catch let error as SpecError {
            console.err(error.description)
            console.err("tokenkeeper: \(error.problem) in \(error.item). \(error.remedy)")
            return error.exitStatus
        } catch let error as any ActionableError {
            console.err("tokenkeeper: error: \(error.description)")
            return error.exitStatus
        } catch {
            console.err(
                "tokenkeeper: error: \(type(of: error)): an unexpected failure. Please report it with the command you ran."
            )
            return .environment
        }
    }
}

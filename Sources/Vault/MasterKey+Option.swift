import Crypto
import Foundation
import Support

extension MasterKey {
    /// Reads the key file a command-line option names (`--master-key-file`, `--new-master-key-file`).
    ///
    /// Every error names the option, never its value: the value given by mistake may be the key itself
    /// (`--master-key-file="$KEY"`), and errors are printed and logged.
    /// - Parameter variable: the environment variable that may hold the key instead, named by the remedy.
    /// - throws: ``MasterKeyOptionError``.
    public init(fileNamedBy option: String, path: String, variable: String = "TOKENKEEPER_MASTER_KEY") throws {
        do {
            try self.init(contentsOfFile: path)
        } catch {
            throw MasterKeyOptionError(
                option: option, cause: error, valueLooksLikeAKey: Self.looksLikeAKey(path), variable: variable)
        }
    }

    /// Refuses an output path (`--master-key-out`, `--new-master-key-out`) that is a master key itself,
    /// given by mistake: the path is printed once the key is written, and a file would bear the key as its name.
    /// - throws: ``MasterKeyOptionError`` naming the option, never the value.
    public static func refuseKeyAsPath(_ path: String, option: String) throws {
        guard looksLikeAKey(path) else { return }
        throw MasterKeyOptionError(
            option: option, cause: MasterKeyError(source: option, problem: "is a key"), valueLooksLikeAKey: true)
    }

    /// Whether `text` is what a master key looks like: base64 for 32 bytes.
    static func looksLikeAKey(_ text: String) -> Bool {
        Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines))?.count == SymmetricKey.byteCount
    }
}

/// The key file a command-line option names cannot be used. Names the option, never its value.
public struct MasterKeyOptionError: ActionableError {
    /// The option, for example `--master-key-file`.
    public let option: String
    public let problem: String
    /// The environment variable that may hold the key instead (`TOKENKEEPER_TO_MASTER_KEY` for the
    /// destination of `state copy`).
    public let variable: String

    /// Describes `cause` without the path it carries.
    init(option: String, cause: any Error, valueLooksLikeAKey: Bool, variable: String = "TOKENKEEPER_MASTER_KEY") {
        self.option = option
        self.variable = variable
        if valueLooksLikeAKey {
            problem = "its value looks like a master key itself, not the path of a key file (the value is not shown)"
            return
        }
        let hidden = "(the path is not shown, in case it is the key itself)"
        switch cause {
        case let error as FileSystemError where error.operation == "stat" || error.operation == "open":
            problem = "the file it names cannot be opened: \(SystemErrorText.describe(error.code)) \(hidden)"
        case let error as FileSystemError:
            problem =
                "the file it names cannot be read: \(error.operation) failed: \(SystemErrorText.describe(error.code)) \(hidden)"
        case let error as InsecurePermissionsError:
            problem =
                "the file it names has permissions 0\(String(error.foundMode, radix: 8)), so group or others can read it; "
                + "like ssh, tokenkeeper refuses such a key file (run `chmod 600` on it)"
        case let error as MasterKeyError:
            problem = "the file it names \(error.problem); it must hold the base64 master key (32 bytes)"
        default:
            problem = "the file it names cannot be used \(hidden)"
        }
    }

    public var item: String { option }
    public var remedy: String {
        "Give \(option) the path of a file (mode 0600) holding the base64 master key, or set \(variable) to the key itself "
            + "(in CI, from a secret variable); a key is never taken as an argument."
    }
    public var exitStatus: ExitStatus { .environment }
}

import Foundation
import Support

/// Where a secret comes from: `env:NAME` or `file:PATH`, never the value itself (secrets in a spec
/// would end up in the repository and the CI logs).

public enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    /// An environment variable.
    case environment(String)
    /// A file (mode 0600) holding the value; a relative path is resolved against the spec's folder.
    case file(String)

    /// Parses `env:NAME` or `file:PATH`; nil for anything else.
    static func parse(_ text: String, baseDirectory: String) -> SecretReference? {
        if text.hasPrefix("env:"), text.count > 4 {
            let name = String(text.dropFirst(4))
            return name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
                ? .environment(name) : nil
        }
        if text.hasPrefix("file:"), text.count > 5 {
            return .file(SpecPaths.resolve(String(text.dropFirst(5)), against: baseDirectory))
        }
        return nil
    }

    public var description: String {
        switch self {
        case .environment(let name): "env:\(name)"
        case .file(let path): "file:\(path)"
        }
    }

    /// Reads the secret now (at run time, so `validate` works without secrets).
    /// - throws: ``SecretReferenceError`` naming the variable or file, never a value.
    public func resolve(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SecretText {
        switch self {
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw SecretReferenceError(
                    reference: description, problem: "the environment variable \(name) is not set",
                    remedy: "Set \(name) (in CI, map the secret variable into the step's environment).")
            }
            return SecretText(value)
        case .file(let path):
            var bytes = try PrivateFiles.readPrivate(path)
            defer { wipe(&bytes) }
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard !text.isEmpty else {
                throw SecretReferenceError(
                    reference: description, problem: "the file is empty", remedy: "Write the secret into \(path).")
            }
            return SecretText(text)
        }
    }
}

/// A secret reference that cannot be resolved.
public struct SecretReferenceError: ActionableError {
    public let reference: String
    public let problem: String
    public let remedy: String
    public var item: String { reference }
    public var exitStatus: ExitStatus { .environment }
}

/// Relative paths in a spec are relative to the spec's own folder, so a job works from any directory.
enum SpecPaths {
    static func resolve(_ path: String, against base: String) -> String {
        if path.hasPrefix("/") { return (path as NSString).standardizingPath }
        return ((base as NSString).appendingPathComponent(path) as NSString).standardizingPath
    }
}

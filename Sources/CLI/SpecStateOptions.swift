import Foundation
import Spec

#if canImport(Glibc)

    import Glibc
#endif

/// A job spec names the job's state: `--vault` or `--store` given beside a spec must name the same
/// paths, or the command is refused (never silently ignored: the operator meant something by them).

package enum SpecStateOptions {
    /// Throws ``UsageError`` when `--vault` or `--store` was given and names another location than the spec
    /// (a path, or the same `postgres:env:NAME` / `postgres:file:PATH` reference).
    package static func check(_ invocation: Invocation, against spec: JobSpec) throws {
        let vaultKey = if case .folder = spec.vault { "vault.path" } else { "vault.postgres" }
        let storeKey = if case .sqlite = spec.store { "store.sqlite" } else { "store.postgres" }
        for (option, specPath, key) in [
            ("vault", spec.vault.description, vaultKey), ("store", spec.store.description, storeKey),
        ] {
            guard let given = invocation.value(option) else { continue }
            // A connection string given in place of a reference is refused without being repeated.
            _ = try StateLocationText.parse(
                given, option: "--\(option)", baseDirectory: FileManager.default.currentDirectoryPath)
            guard !same(given, specPath) else { continue }
            throw UsageError(
                command: invocation.path,
                problem:
                    "--\(option) \(given) is not the spec's \(key) (\(specPath)); a job's state is what its spec names",
                remedy: "Drop --\(option), or change \(key) in \(spec.sourcePath).")
        }
    }

    /// Whether `given` names what the spec names: the same `postgres:` reference (a `file:` one by its
    /// canonical path), or the same path.
    static func same(_ given: String, _ specLocation: String) -> Bool {
        let parsed = try? StateLocationText.parse(
            given, option: "", baseDirectory: FileManager.default.currentDirectoryPath)
        switch parsed {
        case .postgres(.environment(let name)): return specLocation == "postgres:env:\(name)"
        case .postgres(.file(let path)):
            return specLocation.hasPrefix("postgres:file:")
                && canonical(path) == canonical(String(specLocation.dropFirst("postgres:file:".count)))
        case .path(let path): return !specLocation.hasPrefix("postgres:") && canonical(path) == canonical(specLocation)
        case nil: return false
        }
    }

    /// The absolute path with `.` and `..` resolved, and symbolic links too when the path exists.
    static func canonical(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let standardized = URL(fileURLWithPath: absolute).standardizedFileURL.path
        guard let real = realpath(standardized, nil) else { return standardized }
        defer { free(real) }
        return String(cString: real)
    }
}

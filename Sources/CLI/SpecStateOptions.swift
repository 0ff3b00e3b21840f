import Foundation
import Spec

#if canImport(Glibc)

    import Glibc
#endif

/// A job spec names the job's state: `--vault` or `--store` given beside a spec must name the same
/// paths, or the command is refused (never silently ignored: the operator meant something by them).

package enum SpecStateOptions {
    /// Throws ``UsageError`` when `--vault` or `--store` was given and names another path than the spec.
    package static func check(_ invocation: Invocation, against spec: JobSpec) throws {
        for (option, specPath, key) in [
            ("vault", spec.vaultPath, "vault.path"), ("store", spec.storePath, "store.sqlite"),
        ] {
            guard let given = invocation.value(option), canonical(given) != canonical(specPath) else { continue }
            throw UsageError(
                command: invocation.path,
                problem:
                    "--\(option) \(given) is not the spec's \(key) (\(specPath)); a job's state is what its spec names",
                remedy: "Drop --\(option), or change \(key) in \(spec.sourcePath).")
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

import Foundation

/// Where the tests find the things `scripts/setup` installs and the package builds.
enum TestEnvironment {
    /// The package's top folder (the one with Package.swift), found from this source file.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Support, TokenKeeperTests, Tests, root
        return url.path
    }()

    /// The shared folder (public schemas, bench baseline): `TOKENKEEPER_SHARED` (scripts/test sets it,
    /// see scripts/shared-dir), else `../shared` from the package root.
    static let sharedRoot: String = {
        if let configured = ProcessInfo.processInfo.environment["TOKENKEEPER_SHARED"], !configured.isEmpty {
            return configured
        }
        return (packageRoot as NSString).appendingPathComponent("../shared")
    }()

    /// A file of the shared folder; throws a clear error when it is not there (rather than letting a
    /// validator fail obscurely).
    static func sharedFile(_ relative: String) throws -> String {
        let path = (sharedRoot as NSString).appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: path) else {
            throw MissingSharedFile(path: path)
        }
        return path
    }

    /// The test virtual environment's Python (`TOKENKEEPER_TEST_PYTHON`, else `.venv/bin/python`).
    /// Tests that need it fail, not skip, when it is missing: run `scripts/setup`.
    static var python: String {
        if let configured = ProcessInfo.processInfo.environment["TOKENKEEPER_TEST_PYTHON"], !configured.isEmpty {
            return configured
        }
        return packageRoot + "/.venv/bin/python"
    }

    /// The Swift toolchain's `swift` driver: the first on `PATH` (scripts/test puts the toolchain there),
    /// else `TOKENKEEPER_SWIFT`'s folder, else /opt/swift/usr/bin, as scripts/setup looks for it.
    static var swiftExecutable: String {
        let environment = ProcessInfo.processInfo.environment
        let folders =
            (environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + [environment["TOKENKEEPER_SWIFT"] ?? "/opt/swift/usr/bin"]
        for folder in folders where FileManager.default.isExecutableFile(atPath: folder + "/swift") {
            return folder + "/swift"
        }
        return "/opt/swift/usr/bin/swift"
    }

    /// The built `tokenkeeper` executable, next to the test bundle in the build products folder.
    static var tokenkeeperExecutable: String {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [products, products.deletingLastPathComponent()].map {
            $0.appendingPathComponent("tokenkeeper").path
        }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }
}

/// A file of the shared folder that is not where the tests look.
struct MissingSharedFile: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is missing: run scripts/test, or set TOKENKEEPER_SHARED to the shared folder" }
}

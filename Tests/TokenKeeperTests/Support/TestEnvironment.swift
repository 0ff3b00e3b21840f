import Foundation

/// Where the tests find the things `scripts/setup` installs and the package builds.
enum TestEnvironment {
    /// The package's top folder (the one with Package.swift), found from this source file.
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }  // Support, TokenKeeperTests, Tests, root
        return url.path
    }()

    /// The shared/ folder beside the project (schemas, bench baseline), as `../shared` from the package root.
    static let sharedRoot: String = (packageRoot as NSString).appendingPathComponent("../shared")

    /// The test virtual environment's Python (`TOKENKEEPER_TEST_PYTHON`, else `.venv/bin/python`).
    /// Tests that need it fail, not skip, when it is missing: run `scripts/setup`.
    static var python: String {
        if let configured = ProcessInfo.processInfo.environment["TOKENKEEPER_TEST_PYTHON"], !configured.isEmpty {
            return configured
        }
        return packageRoot + "/.venv/bin/python"
    }

    /// The built `tokenkeeper` executable, next to the test bundle in the build products folder.
    static var tokenkeeperExecutable: String {
        let products = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates = [products, products.deletingLastPathComponent()].map { $0.appendingPathComponent("tokenkeeper").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }
}

import Foundation
import Testing

/// The layers hold: the package graph and every source file's imports stay inside the table of
/// ``LayerRules`` (README "Project layout").
@Suite struct LayeringTests {
    /// The package as `swift package dump-package` describes it: each target's name, folder and
    /// declared dependencies.
    struct PackageTarget: Decodable {
        var name: String
        var type: String
        var path: String?
        var dependencies: [[String: [String?]]]

        var dependencyNames: [String] { dependencies.compactMap { $0.values.first?.first ?? nil } }
        var folder: String { path ?? (type == "test" ? "Tests/\(name)" : "Sources/\(name)") }
    }

    static func packageTargets() throws -> [PackageTarget] {
        // A scratch folder of its own, so it never waits for the build lock `swift test` holds.
        try withTemporaryDirectory { scratch in
            let result = try runProcess(
                TestEnvironment.swiftExecutable,
                [
                    "package", "dump-package", "--package-path", TestEnvironment.packageRoot,
                    "--scratch-path", scratch,
                ], timeout: 120)
            try #require(result.status == 0, "swift package dump-package failed: \(result.stderr)")
            struct Manifest: Decodable { var targets: [PackageTarget] }
            return try JSONDecoder().decode(Manifest.self, from: Data(result.stdout.utf8)).targets
        }
    }

    @Test func everyTargetDeclaresOnlyDependenciesItsColumnAllows() throws {
        let targets = try Self.packageTargets().filter { $0.type != "test" }
        try #require(targets.count >= 14, "expected the library's layers as targets, found \(targets.map(\.name))")
        var problems: [String] = []
        for target in targets {
            guard let allowed = LayerRules.allowed(for: target.name) else {
                problems.append("target \(target.name) has no row in the layer table")
                continue
            }
            for dependency in target.dependencyNames where !allowed.contains(dependency) {
                problems.append("\(target.name) depends on \(dependency), outside its column")
            }
        }
        #expect(problems == [])
    }

    @Test func everySourceFileImportsOnlyWhatItsTargetMayUse() throws {
        let targets = try Self.packageTargets().filter { $0.type != "test" }
        let names = Set(targets.map(\.name))
        var problems: [String] = []
        var filesRead = 0
        for target in targets {
            let folder = TestEnvironment.packageRoot + "/" + target.folder
            for file in Self.swiftFiles(under: folder) {
                let source = try String(contentsOfFile: file, encoding: .utf8)
                filesRead += 1
                problems += LayerRules.violations(
                    target: target.name, file: file, imports: LayerRules.imports(inSource: source),
                    projectTargets: names)
            }
        }
        #expect(filesRead > 100, "the check must read the sources; it read \(filesRead) files")
        #expect(problems == [])
    }

    @Test func onlyCryptoImportsOpenSSLAndOnlyTheBackendsImportADatabase() throws {
        let holders = LayerRules.mayUse.filter { $0.value.contains("COpenSSL") }.map(\.key)
        #expect(holders == ["Crypto"])
        let databaseHolders = Set(
            LayerRules.mayUse.filter { !$0.value.isDisjoint(with: ["CSQLite", "PostgresClient"]) }.map(\.key))
        // TokenKeeper only re-exports the public API (PostgresError, PostgresTLS) for Swift callers.
        #expect(databaseHolders.isSubset(of: ["Store", "Vault", "TokenKeeper"]))
        let libpqHolders = LayerRules.mayUse.filter { $0.value.contains("CLibPQ") }.map(\.key)
        #expect(libpqHolders == ["PostgresClient"])
    }

    /// Callers hold `any KeyVault` and `any TokenStore`: only the one place that opens the state a spec
    /// names (Custody's `JobState` and `StateBinding`) names a concrete backend among the stages, the
    /// runner, token use and custody.
    @Test func onlyTheStateOpenerNamesAConcreteBackend() throws {
        let opener: Set<String> = ["JobState.swift", "StateBinding.swift", "VaultOpener.swift"]
        var named: [String] = []
        var filesRead = 0
        for module in ["Stages", "Runner", "Access", "Custody", "Report", "Identity", "Spec"] {
            for file in Self.swiftFiles(under: TestEnvironment.packageRoot + "/Sources/" + module)
            where !opener.contains((file as NSString).lastPathComponent) {
                filesRead += 1
                let source = try String(contentsOfFile: file, encoding: .utf8)
                for backend in ["FileVault", "SQLiteTokenStore", "PostgresTokenStore", "PostgresVault"]
                where source.contains(backend) {
                    named.append("\(file): \(backend)")
                }
            }
        }
        #expect(filesRead > 40)
        #expect(named == [])
    }

    @Test func aStageImportingTheDatabaseIsCaught() {
        let source = "import Foundation\n@preconcurrency import CSQLite\nimport Store\n"
        let problems = LayerRules.violations(
            target: "Stages", file: "Sources/Stages/Bad.swift",
            imports: LayerRules.imports(inSource: source),
            projectTargets: ["CSQLite", "Store", "Stages", "Support"])
        #expect(problems == ["Sources/Stages/Bad.swift: Stages imports CSQLite, outside its column"])
    }

    @Test func aModuleFromOutsideTheProjectIsCaught() {
        let problems = LayerRules.violations(
            target: "Vault", file: "Sources/Vault/Bad.swift",
            imports: LayerRules.imports(inSource: "import struct NIO.ByteBuffer\n"),
            projectTargets: ["Vault", "Crypto", "Support"])
        #expect(problems == ["Sources/Vault/Bad.swift: Vault imports NIO, not a project target or platform module"])
    }

    static func swiftFiles(under folder: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }.map { folder + "/" + $0 }.sorted()
    }
}

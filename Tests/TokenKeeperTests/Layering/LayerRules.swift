import Foundation

/// The project's layers as a specification (../shared/DESIGN.md "Modules", README "Project layout"):
/// for every target, the targets it may use. Every target may also use `Support`. The layering tests
/// hold both the package graph and every source file's `import` lines to it, since SwiftPM lets a
/// file import a module its target only reaches indirectly.
enum LayerRules {
    /// What each target may use, besides `Support`.
    static let mayUse: [String: Set<String>] = [
        "COpenSSL": [], "CSQLite": [], "CLibPQ": [],
        "Support": [],
        "Crypto": ["COpenSSL"],
        "Spec": [],
        "Identity": ["Spec"],
        "PostgresClient": ["CLibPQ"],
        "Vault": ["Crypto", "PostgresClient"],
        "Store": ["CSQLite", "PostgresClient"],
        "Custody": ["Crypto", "Vault", "Store", "Identity", "Spec"],
        "Report": ["Spec"],
        "Stages": ["Custody", "Identity", "Spec", "Report", "Vault", "Store"],
        "Runner": ["Stages", "Report", "Spec", "Custody", "Vault", "Store", "Crypto"],
        "Access": ["Custody", "Identity", "Spec", "Vault", "Store"],
        "CLI": ["Crypto", "Spec", "Identity", "Vault", "Store", "Custody", "Report", "Stages", "Runner", "Access"],
        "TokenKeeper": [
            "Crypto", "Spec", "Identity", "PostgresClient", "Vault", "Store", "Custody", "Report", "Stages", "Runner",
            "Access", "CLI",
        ],
        "tokenkeeper": ["CLI"],
        "tokenkeeper-bench": ["TokenKeeper"],
    ]

    /// Modules of the toolchain and the operating system that any target may import.
    static let platformModules: Set<String> = [
        "Foundation", "FoundationNetworking", "FoundationXML", "FoundationEssentials", "Dispatch", "Glibc", "Musl",
        "Darwin", "Synchronization",
    ]

    /// The targets `target` may use: its column plus `Support` (and itself).
    static func allowed(for target: String) -> Set<String>? {
        guard let column = mayUse[target] else { return nil }
        return target == "Support" || target.hasPrefix("C") && column.isEmpty ? column : column.union(["Support"])
    }

    /// The modules a Swift source file imports, in order, read from its `import` lines (any attribute
    /// such as `@_exported` or `@testable`, and any kind such as `import struct`).
    static func imports(inSource source: String) -> [String] {
        var modules: [String] = []
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            var words = line.split(separator: " ").map(String.init)
            while let first = words.first, first.hasPrefix("@") { words.removeFirst() }
            guard words.first == "import", words.count >= 2 else { continue }
            let kinds: Set<String> = ["struct", "class", "enum", "protocol", "func", "var", "let", "typealias"]
            let name = kinds.contains(words[1]) && words.count >= 3 ? words[2] : words[1]
            modules.append(String(name.split(separator: ".").first ?? Substring(name)))
        }
        return modules
    }

    /// Every way `imports` of a file in `target` break the layers: a project target outside the
    /// column, or a module that is neither a project target nor part of the platform.
    static func violations(target: String, file: String, imports: [String], projectTargets: Set<String>) -> [String] {
        guard let allowed = allowed(for: target) else {
            return ["\(file): target \(target) has no row in the layer table"]
        }
        return imports.compactMap { module in
            if projectTargets.contains(module) {
                return allowed.contains(module) ? nil : "\(file): \(target) imports \(module), outside its column"
            }
            return platformModules.contains(module)
                ? nil : "\(file): \(target) imports \(module), not a project target or platform module"
        }
    }
}

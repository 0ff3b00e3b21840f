// swift-tools-version: 6.0
import PackageDescription

/// Settings shared by every Swift target.
let swiftSettings: [SwiftSetting] = [
    // SE-0335: spell existential types `any P`, so protocol costs are visible.
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0335-existential-any.md
    .enableUpcomingFeature("ExistentialAny"),
    // SE-0444: a file sees members only of modules it imports itself.
    // https://github.com/swiftlang/swift-evolution/blob/main/proposals/0444-member-import-visibility.md
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "tokenkeeper",
    products: [
        .executable(name: "tokenkeeper", targets: ["tokenkeeper"]),
        .executable(name: "tokenkeeper-bench", targets: ["tokenkeeper-bench"]),
        .library(name: "TokenKeeper", targets: ["TokenKeeper"]),
    ],
    targets: [
        // OpenSSL 3 libcrypto: AEAD, KDF, random bytes. Nothing but the Crypto target imports it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // SQLite 3: the token store. Nothing but the Store target imports it.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        // libpq: PostgreSQL, the server backend of the store and the vault. Only PostgresClient imports it, and
        // only Store and Vault import PostgresClient.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // The library's layers, one target each (../shared/DESIGN.md "Modules"; README "Project layout").
        // A target lists exactly what it may use; Tests/TokenKeeperTests/Layering checks the imports too.
        .target(name: "Support", swiftSettings: swiftSettings),
        .target(name: "Crypto", dependencies: ["COpenSSL", "Support"], swiftSettings: swiftSettings),
        .target(name: "Spec", dependencies: ["Support"], swiftSettings: swiftSettings),
        .target(name: "Identity", dependencies: ["Spec", "Support"], swiftSettings: swiftSettings),
        // libpq's client: one connection with scrubbed errors and the TLS rule, shared by the two backends
        // that may reach PostgreSQL (Vault and Store); nothing else imports CLibPQ.
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "Support"], swiftSettings: swiftSettings),
        .target(name: "Vault", dependencies: ["Crypto", "PostgresClient", "Support"], swiftSettings: swiftSettings),
        .target(
            name: "Store", dependencies: ["CSQLite", "PostgresClient", "Support"], swiftSettings: swiftSettings),
        .target(
            name: "Custody",
            dependencies: ["Crypto", "Vault", "Store", "Identity", "Spec", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(name: "Report", dependencies: ["Spec", "Support"], swiftSettings: swiftSettings),
        .target(
            name: "Stages",
            dependencies: ["Custody", "Identity", "Spec", "Report", "Vault", "Store", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Runner",
            dependencies: ["Stages", "Report", "Spec", "Custody", "Vault", "Store", "Crypto", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Access",
            dependencies: ["Custody", "Identity", "Spec", "Vault", "Store", "Support"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CLI",
            dependencies: [
                "Support", "Crypto", "Spec", "Identity", "Vault", "Store", "Custody", "Report", "Stages",
                "Runner", "Access",
            ],
            swiftSettings: swiftSettings
        ),
        // The product library: re-exports the public API, so `import TokenKeeper` is all a Swift caller needs.
        .target(
            name: "TokenKeeper",
            dependencies: [
                "Support", "Crypto", "Spec", "Identity", "PostgresClient", "Vault", "Store", "Custody", "Report",
                "Stages", "Runner", "Access", "CLI",
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tokenkeeper",
            dependencies: ["CLI"],
            swiftSettings: swiftSettings
        ),
        // The benchmarks (scripts/bench): seeds a store, times `tokenkeeper run`, and runs
        // the Python baseline beside it. Not part of the product image.
        .executableTarget(
            name: "tokenkeeper-bench",
            dependencies: ["TokenKeeper"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TokenKeeperTests",
            dependencies: [
                "TokenKeeper", "tokenkeeper", "Support", "Crypto", "Spec", "Identity", "PostgresClient", "Vault",
                "Store", "Custody", "Report", "Stages", "Runner", "Access", "CLI",
            ],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

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
        // OpenSSL 3 libcrypto: AEAD, KDF, random bytes. Nothing but the Crypto folder imports it.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"]), .brew(["openssl@3"])]
        ),
        // SQLite 3: the token store. Nothing but the Store folder imports it.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "TokenKeeper",
            dependencies: ["COpenSSL", "CSQLite"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tokenkeeper",
            dependencies: ["TokenKeeper"],
            swiftSettings: swiftSettings
        ),
        // The rotation benchmark (scripts/bench-rotate): seeds a store, times `tokenkeeper run`, and runs
        // the Python baseline beside it. Not part of the product image.
        .executableTarget(
            name: "tokenkeeper-bench",
            dependencies: ["TokenKeeper"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TokenKeeperTests",
            dependencies: ["TokenKeeper", "tokenkeeper"],
            swiftSettings: swiftSettings
        ),
    ],
    swiftLanguageModes: [.v6]
)

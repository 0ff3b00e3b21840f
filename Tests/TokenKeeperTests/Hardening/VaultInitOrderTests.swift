import Foundation
import Testing

@testable import Report
@testable import Support

/// `vault init` checks everything before it writes the master key file, and removes the key file when
/// the vault cannot be made, so no key file is left that matches no vault (issue 10, point 11).
@Suite struct VaultInitOrderTests {
    @Test func initIntoANonEmptyFolderWritesNoKeyFile() throws {
        try withTemporaryDirectory { folder in
            try FileManager.default.createDirectory(atPath: folder + "/vault", withIntermediateDirectories: false)
            try Data("x".utf8).write(to: URL(fileURLWithPath: folder + "/vault/something"))
            let result = try runTokenKeeper([
                "vault", "init", folder + "/vault", "--master-key-out", folder + "/master.key",
            ])
            #expect(result.status == 2, "\(result.stderr)")
            #expect(!PrivateFiles.exists(folder + "/master.key"))
        }
    }

    @Test func initWithABadRetentionWritesNoKeyFile() throws {
        try withTemporaryDirectory { folder in
            let result = try runTokenKeeper([
                "vault", "init", folder + "/vault", "--master-key-out", folder + "/master.key",
                "--retention-days", "3",
            ])
            #expect(result.status == 2, "\(result.stderr)")
            #expect(!PrivateFiles.exists(folder + "/master.key") && !PrivateFiles.exists(folder + "/vault"))
        }
    }

    @Test func initThatFailsToMakeTheVaultRemovesTheKeyFileItWrote() throws {
        try withTemporaryDirectory { folder in
            // A name longer than the file system allows: nothing checks it up front; mkdir refuses it.
            let vault = folder + "/" + String(repeating: "v", count: 300)
            let result = try runTokenKeeper(["vault", "init", vault, "--master-key-out", folder + "/master.key"])
            #expect(result.status == 3, "\(result.stderr)")
            #expect(result.stderr.contains("master.key"), "\(result.stderr)")
            #expect(!PrivateFiles.exists(folder + "/master.key"))
        }
    }
}

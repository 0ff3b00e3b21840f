import Foundation
import Testing

@testable import Support

/// Parent folders are computed without Foundation's `deletingLastPathComponent`, which traps on Linux
/// for one-character names (`tokenkeeper vault init a/vault` crashed with SIGILL).
@Suite struct PathTextTests {
    @Test(arguments: [
        ("a", ""), ("a/", ""), ("a/vault", "a"), ("x.db", ""), ("./x.db", "."), ("/a", "/"), ("/", "/"),
        ("/var/lib/tk/tokens.db", "/var/lib/tk"), ("state//tokens.db", "state"), ("b/c/", "b"),
    ])
    func theParentOfAPathIsTheFolderThatHoldsIt(path: String, parent: String) {
        #expect(PathText.parent(of: path) == parent)
    }

    @Test func vaultInitUnderAOneLetterFolderThatDoesNotExistCreatesIt() throws {
        try withTemporaryDirectory { folder in
            let result = try runTokenKeeper(
                ["vault", "init", "a/vault", "--master-key-out", "master.key"], workingDirectory: folder)
            #expect(result.status == 0, "\(result.output)")
            var info = stat()
            #expect(stat(folder + "/a/vault/vault.json", &info) == 0)
            #expect(stat(folder + "/a", &info) == 0 && info.st_mode & 0o777 == 0o700)
        }
    }
}

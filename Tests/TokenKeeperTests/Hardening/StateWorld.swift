import Foundation

@testable import Support

/// The nightly example job in a temporary folder, driven through the built binary as an operator
/// drives it: `state/vault` made by `vault init`, `state/tokens.db` holding three tokens stored with
/// `token put` (contoso-0001/alice, fabrikam-0002/bob, contoso-0001/carol), and `nightly.yml`.
struct StateWorld {
    let workspace: JobCommandsEndToEndTests.NightlyWorkspace
    var folder: String { workspace.folder }
    var state: String { folder + "/state" }
    var vault: String { state + "/vault" }
    var store: String { state + "/tokens.db" }
    var masterKey: String { workspace.environment["TOKENKEEPER_MASTER_KEY"]! }
    /// The three rows `token put` stored, with the token each holds.
    static let tokens = [("contoso-0001", "alice"), ("fabrikam-0002", "bob"), ("contoso-0001", "carol")]

    /// Creates the world; `maxKeyAge` replaces the example's 30d (use 0s to make every key due).
    init(_ folder: String, maxKeyAge: String = "30d", keepVersions: Int = 1) throws {
        workspace = try JobCommandsEndToEndTests.NightlyWorkspace(folder)
        let text = try String(contentsOfFile: folder + "/nightly.yml", encoding: .utf8)
            .replacingOccurrences(of: "max_key_age: 30d", with: "max_key_age: \(maxKeyAge)")
            .replacingOccurrences(of: "keep_versions: 1", with: "keep_versions: \(keepVersions)")
        try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/nightly.yml"))
    }

    /// Runs the built binary in the world's folder with its environment.
    @discardableResult
    func run(_ arguments: [String], stdin: String = "", extra: [String: String] = [:]) throws -> ProcessResult {
        try workspace.run(arguments, stdin: stdin, extra: extra)
    }

    /// `token show --reveal` of one row: the token, or nil when the command failed.
    func reveal(tenant: String, user: String) throws -> String? {
        let result = try run([
            "token", "show", "--tenant", tenant, "--user", user, "--provider", "entra", "--reveal",
            "--vault", vault, "--store", store,
        ])
        guard result.status == 0 else { return nil }
        return result.stdout.split(separator: "\n").last.map(String.init)
    }

    /// Removes the store file with its WAL companions, as a share that did not mount would.
    func removeStore() {
        for suffix in ["", "-wal", "-shm"] { unlink(store + suffix) }
    }

    /// Every file under `path` (recursively, not following symbolic links) with its bytes.
    static func snapshot(_ path: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            var info = stat()
            guard lstat(path + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            files[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
        }
        return files
    }

    /// The owner of every file and folder under `path`, and of `path` itself.
    static func owners(_ path: String) -> [String: uid_t] {
        var owners: [String: uid_t] = [:]
        var info = stat()
        if lstat(path, &info) == 0 { owners["."] = info.st_uid }
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            if lstat(path + "/" + name, &info) == 0 { owners[name] = info.st_uid }
        }
        return owners
    }

    /// Changes the owner of `path` and everything under it (not following symbolic links).
    static func chownRecursively(_ path: String, to uid: uid_t, group gid: gid_t) {
        lchown(path, uid, gid)
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String { lchown(path + "/" + name, uid, gid) }
    }
}

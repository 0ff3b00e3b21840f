import Foundation

@testable import Vault

/// A vault in a temporary folder, created by principal `admin`.
struct VaultFixture {
    let folder: String
    let masterKey: MasterKey
    var path: String { folder + "/vault" }

    init(folder: String) throws {
        self.folder = folder
        masterKey = try MasterKey.generate()
        _ = try FileVault.initialize(at: folder + "/vault", masterKey: masterKey, principal: "admin")
    }

    func open(as principal: String = "admin", readOnly: Bool = false) throws -> FileVault {
        try FileVault.open(at: path, masterKey: masterKey, principal: principal, readOnly: readOnly)
    }

    /// Every file under the vault with its bytes, to compare states.
    func snapshot() throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: path + "/" + name, isDirectory: &isFolder), !isFolder.boolValue {
                files[name] = try Data(contentsOf: URL(fileURLWithPath: path + "/" + name))
            }
        }
        return files
    }

    func mode(_ relative: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path + relative)[.posixPermissions] as! Int
    }
}

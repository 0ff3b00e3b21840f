import Foundation
import Testing

@testable import Support
@testable import Vault

/// ``FileVault/addVersions(to:)``: one lock, one folder sync and one audit sync for many secrets, with
/// each secret still written atomically, failing alone and audited as the single call audits it. (A kill
/// mid-batch is not tested beyond what each file's atomic rename gives: every secret file is either its
/// old or its new whole content, which `FileVaultTests` and the rotation crash tests cover.)
@Suite struct FileVaultBatchTests {
    /// The audit log's entries for `operation`, as (secret, outcome) pairs in log order.
    private func audited(_ operation: String, in fixture: VaultFixture) throws -> [(String, String)] {
        let text = String(
            decoding: try Data(contentsOf: URL(fileURLWithPath: fixture.path + "/audit.log")), as: UTF8.self)
        return try text.split(separator: "\n").compactMap { line in
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard entry["operation"] as? String == operation else { return nil }
            return (entry["secret"] as? String ?? "", entry["outcome"] as? String ?? "")
        }
    }

    private func flipByte(in path: String) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[10] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
    }

    @Test func batchedAddGivesEveryTenantItsNewVersionAndAuditsEachSecretOnce() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            let names = (0..<5).map { "tenant-\($0)" }
            for name in names { _ = try vault.createSecret(name) }
            let keys = try names.map { try vault.dataKey(secret: $0, version: 1) }
            let results = try vault.addVersions(to: names)
            #expect(try results.map { try $0.get().number } == [2, 2, 2, 2, 2])
            let reopened = try fixture.open()
            for (name, key) in zip(names, keys) {
                #expect(try reopened.versions(of: name).map(\.number) == [1, 2])
                #expect(try reopened.dataKey(secret: name, version: 1) == key)
                #expect(try reopened.latestDataKey(secret: name).key != key)
            }
            #expect(try audited("add version", in: fixture).map(\.0) == names)
            #expect(try audited("add version", in: fixture).allSatisfy { $0.1 == "ok" })
            // Every secret file was renamed into place: no temporary file is left behind.
            let left = try FileManager.default.contentsOfDirectory(atPath: fixture.path + "/secrets")
            #expect(left.sorted() == names.map { $0 + ".json" })
        }
    }

    @Test func corruptOrDeletedSecretFileFailsOnlyItsOwnTenantInABatchedAdd() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            for name in ["a", "b", "c", "d"] { _ = try vault.createSecret(name) }
            let corrupt = fixture.path + "/secrets/b.json"
            try flipByte(in: corrupt)
            let damaged = try Data(contentsOf: URL(fileURLWithPath: corrupt))
            #expect(unlink(fixture.path + "/secrets/c.json") == 0)
            let results = try vault.addVersions(to: ["a", "b", "c", "d"])
            #expect(try results[0].get().number == 2)
            #expect(try results[3].get().number == 2)
            #expect {
                try results[1].get()
            } throws: { error in
                if case VaultError.corruptSecret("b", _, _) = error { true } else { false }
            }
            #expect(throws: VaultError.secretNotFound("c")) { try results[2].get() }
            #expect(try Data(contentsOf: URL(fileURLWithPath: corrupt)) == damaged)
            #expect(try fixture.open().versions(of: "a").map(\.number) == [1, 2])
            #expect(try fixture.open().versions(of: "d").map(\.number) == [1, 2])
            let entries = try audited("add version", in: fixture)
            #expect(entries.map(\.0) == ["a", "b", "c", "d"])
            #expect(entries.map(\.1) == ["ok", "error", "error", "ok"])
        }
    }

    @Test func batchedAddWithoutSetChangesNoSecretAndAuditsEachAsDenied() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let admin = try fixture.open()
            for name in ["a", "b"] { _ = try admin.createSecret(name) }
            try admin.setPolicy(for: "app", permissions: [.get, .list])
            let secretsBefore = try fixture.snapshot().filter { $0.key.hasPrefix("secrets/") }
            #expect(
                throws: VaultError.permissionDenied(
                    principal: "app", permission: .set, operation: "add version", secret: nil)
            ) {
                try fixture.open(as: "app").addVersions(to: ["a", "b"])
            }
            #expect(try fixture.snapshot().filter { $0.key.hasPrefix("secrets/") } == secretsBefore)
            let entries = try audited("add version", in: fixture)
            #expect(entries.map(\.0) == ["a", "b"] && entries.allSatisfy { $0.1 == "denied" })
        }
    }
}

import Foundation
import Testing

@testable import Report
@testable import Support
@testable import Vault

@Suite struct FileVaultTests {
    @Test func initCreatesAPrivateFolderAndPrivateFiles() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            _ = try fixture.open().createSecret("tenant-a")
            #expect(try fixture.mode("") == 0o700)
            #expect(try fixture.mode("/secrets") == 0o700)
            for file in ["/vault.json", "/policies.json", "/audit.log", "/write.lock", "/secrets/tenant-a.json"] {
                #expect(try fixture.mode(file) == 0o600, "\(file)")
            }
        }
    }

    @Test func initRefusesAFolderThatIsNotEmpty() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            #expect(throws: VaultError.folderNotEmpty(path: fixture.path)) {
                try FileVault.initialize(at: fixture.path, masterKey: MasterKey.generate(), principal: "x")
            }
        }
    }

    @Test func wrongMasterKeyIsNamedAsSuch() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let error = #expect(throws: VaultError.self) {
                try FileVault.open(at: fixture.path, masterKey: MasterKey.generate(), principal: "admin")
            }
            #expect(error == .wrongMasterKey(vault: fixture.path))
            #expect(error?.description.contains("wrong master key") == true)
            #expect(error?.exitStatus == .environment)
        }
    }

    @Test func groupReadableVaultFolderIsRefused() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            chmod(fixture.path, 0o750)
            let error = #expect(throws: InsecurePermissionsError.self) { try fixture.open() }
            #expect(error?.description.contains("chmod 700") == true)
        }
    }

    @Test func groupReadableVaultFileIsRefused() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            _ = try fixture.open().createSecret("t1")
            chmod(fixture.path + "/secrets/t1.json", 0o640)
            let error = #expect(throws: InsecurePermissionsError.self) { try fixture.open() }
            #expect(error?.description.contains("chmod 600") == true)
        }
    }

    @Test func versionsAreOrderedAndEachHasItsOwnKey() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            #expect(try vault.createSecret("t1").number == 1)
            #expect(try vault.addVersion(to: "t1").number == 2)
            #expect(try vault.versions(of: "t1").map(\.number) == [1, 2])
            #expect(try vault.dataKey(secret: "t1", version: 1) != vault.dataKey(secret: "t1", version: 2))
            #expect(try vault.latestDataKey(secret: "t1").version == 2)
            #expect(try vault.latestDataKey(secret: "t1").key == vault.dataKey(secret: "t1", version: 2))
        }
    }

    @Test func disabledVersionStillOpensButIsNeverTheLatest() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            _ = try vault.createSecret("t1")
            _ = try vault.addVersion(to: "t1")
            try vault.disableVersion(secret: "t1", version: 1)
            #expect(try vault.versions(of: "t1").map(\.enabled) == [false, true])
            _ = try vault.dataKey(secret: "t1", version: 1)
            #expect(throws: VaultError.latestVersion(secret: "t1", version: 2)) {
                try vault.disableVersion(secret: "t1", version: 2)
            }
        }
    }

    @Test func onlyADisabledOlderVersionCanBePurged() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            try vault.bindStore("store-1", heldTokens: true, replacing: nil)
            _ = try vault.createSecret("t1")
            _ = try vault.addVersion(to: "t1")
            #expect(throws: VaultError.self) {
                try vault.purgeVersion(secret: "t1", version: 1, servingStore: "store-1")
            }
            try vault.disableVersion(secret: "t1", version: 1)
            try vault.purgeVersion(secret: "t1", version: 1, servingStore: "store-1")
            #expect(try vault.versions(of: "t1").map(\.number) == [2])
            #expect(throws: VaultError.versionNotFound(secret: "t1", version: 1)) {
                try vault.dataKey(secret: "t1", version: 1)
            }
        }
    }

    @Test(arguments: ["", "has space", "under_score", "dot.ted", String(repeating: "a", count: 128), "ümlaut"])
    func secretNamesOutsideKeyVaultsRuleAreRefused(_ name: String) throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            let error = #expect(throws: VaultError.self) { try vault.createSecret(name) }
            #expect(error?.description.contains(SecretName.rule) == true)
        }
    }

    @Test func aTenantGUIDIsAValidSecretName() throws {
        #expect(SecretName.isValid("72f988bf-86f1-41af-91ab-2d7cd011db47"))
        #expect(SecretName.isValid(String(repeating: "a", count: 127)))
    }

    @Test func softDeleteHidesTheSecretAndRecoverBringsItBack() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            _ = try vault.createSecret("t1")
            let key = try vault.dataKey(secret: "t1", version: 1)
            try vault.deleteSecret("t1")
            #expect(throws: VaultError.secretDeleted("t1")) { try vault.dataKey(secret: "t1", version: 1) }
            #expect(try vault.secrets().isEmpty)
            let deleted = try #require(try vault.deletedSecrets().first)
            #expect(deleted.name == "t1")
            #expect(abs(deleted.scheduledPurgeAt.timeIntervalSince(deleted.deletedAt) - 90 * 86_400) < 1)
            try vault.recoverSecret("t1")
            #expect(try vault.dataKey(secret: "t1", version: 1) == key)
        }
    }

    @Test func purgeRemovesASoftDeletedSecretForGood() throws {
        try withTemporaryDirectory { folder in
            let vault = try VaultFixture(folder: folder).open()
            _ = try vault.createSecret("t1")
            #expect(throws: VaultError.secretNotDeleted("t1")) { try vault.purgeSecret("t1") }
            try vault.deleteSecret("t1")
            try vault.purgeSecret("t1")
            #expect(try vault.secretState("t1") == .absent)
            #expect(throws: VaultError.secretNotFound("t1")) { try vault.recoverSecret("t1") }
        }
    }

    @Test func retentionOutsideSevenToNinetyDaysIsRefused() throws {
        try withTemporaryDirectory { folder in
            for days in [6, 91] {
                #expect(throws: VaultError.invalidRetention(days)) {
                    try FileVault.initialize(
                        at: folder + "/v\(days)", masterKey: MasterKey.generate(), principal: "a", retentionDays: days)
                }
            }
            let vault = try FileVault.initialize(
                at: folder + "/v7", masterKey: MasterKey.generate(), principal: "a", retentionDays: 7)
            #expect(vault.retentionDays == 7)
        }
    }

    @Test func overdueDeletedSecretsArePurged() throws {
        try withTemporaryDirectory { folder in
            let key = try MasterKey.generate()
            let start = Date()
            _ = try FileVault.initialize(at: folder + "/v", masterKey: key, principal: "a", retentionDays: 7)
            let past = try FileVault.open(
                at: folder + "/v", masterKey: key, principal: "a", clock: { start.addingTimeInterval(-8 * 86_400) })
            _ = try past.createSecret("old")
            try past.deleteSecret("old")
            let now = try FileVault.open(at: folder + "/v", masterKey: key, principal: "a")
            _ = try now.createSecret("recent")
            try now.deleteSecret("recent")
            #expect(try now.purgeOverdue() == ["old"])
            #expect(try now.deletedSecrets().map(\.name) == ["recent"])
        }
    }

    @Test func readOnlyVaultWritesNothingAndRefusesChanges() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            _ = try fixture.open().createSecret("t1")
            let before = try fixture.snapshot()
            let vault = try fixture.open(readOnly: true)
            _ = try vault.secrets()
            _ = try vault.dataKey(secret: "t1", version: 1)
            #expect(throws: VaultError.readOnly(operation: "add version")) { try vault.addVersion(to: "t1") }
            #expect(try fixture.snapshot() == before)
        }
    }
}

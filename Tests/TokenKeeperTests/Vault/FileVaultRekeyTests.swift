import Foundation
import Testing

@testable import Report
@testable import Vault

@Suite struct FileVaultRekeyTests {
    @Test func afterRekeyOnlyTheNewKeyOpensAndEveryVersionHasItsKey() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            _ = try vault.createSecret("t1")
            _ = try vault.addVersion(to: "t1")
            _ = try vault.createSecret("t2")
            try vault.deleteSecret("t2")
            let keys = try [1, 2].map { try vault.dataKey(secret: "t1", version: $0) }
            let newKey = try MasterKey.generate()
            try vault.rekey(to: newKey)
            #expect(throws: VaultError.wrongMasterKey(vault: fixture.path)) { try fixture.open() }
            let reopened = try FileVault.open(at: fixture.path, masterKey: newKey, principal: "admin")
            #expect(try [1, 2].map { try reopened.dataKey(secret: "t1", version: $0) } == keys)
            try reopened.recoverSecret("t2")
            _ = try reopened.dataKey(secret: "t2", version: 1)
        }
    }

    @Test func interruptedRekeyIsRefusedUntilResumedWithBothKeys() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let vault = try fixture.open()
            for index in 1...4 { _ = try vault.createSecret("t\(index)") }
            let keys = try (1...4).map { try vault.dataKey(secret: "t\($0)", version: 1) }
            let newKey = try MasterKey.generate()
            #expect(throws: RekeyInterrupted.self) {
                try vault.rekey(to: newKey, afterEachFile: { if $0 >= 2 { throw RekeyInterrupted() } })
            }
            #expect(throws: VaultError.rekeyInterrupted(vault: fixture.path)) { try fixture.open() }
            #expect(throws: VaultError.rekeyInterrupted(vault: fixture.path)) {
                try FileVault.open(at: fixture.path, masterKey: newKey, principal: "admin")
            }
            try FileVault.resumeRekey(
                at: fixture.path, oldMasterKey: fixture.masterKey, newMasterKey: newKey, principal: "admin")
            let reopened = try FileVault.open(at: fixture.path, masterKey: newKey, principal: "admin")
            #expect(try (1...4).map { try reopened.dataKey(secret: "t\($0)", version: 1) } == keys)
        }
    }
}

/// What the interrupted-rekey test throws from the progress callback, as a crash after two files would.
private struct RekeyInterrupted: Error {}

import Foundation
import Testing

@testable import Crypto
@testable import Report
@testable import Support
@testable import Vault

@Suite struct FileVaultIntegrityTests {
    private func flipByte(in path: String, at offset: Int) throws {
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[offset] ^= 0x04
        try bytes.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
    }

    @Test func flippedByteInASecretFileIsReportedAsCorruptionNamingTheFile() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            _ = try fixture.open().createSecret("tenant-a")
            let file = fixture.path + "/secrets/tenant-a.json"
            let size = try Data(contentsOf: URL(fileURLWithPath: file)).count
            for offset in stride(from: 0, to: size - 1, by: max(1, size / 40)) {  // bounded: about 40 positions
                let original = try Data(contentsOf: URL(fileURLWithPath: file))
                try flipByte(in: file, at: offset)
                let error = #expect(throws: VaultError.self, "offset \(offset)") {
                    try fixture.open().dataKey(secret: "tenant-a", version: 1)
                }
                if case .corruptSecret("tenant-a", let named, _) = error {
                    #expect(named == file)
                } else {
                    Issue.record("offset \(offset): \(String(describing: error))")
                }
                try original.write(to: URL(fileURLWithPath: file))
            }
        }
    }

    @Test func flippedByteInVaultJSONIsCorruptionNotAWrongKey() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            try flipByte(in: fixture.path + "/vault.json", at: 5)
            let error = #expect(throws: VaultError.self) { try fixture.open() }
            guard case .corrupt = error else { Issue.record("\(String(describing: error))"); return }
        }
    }

    @Test func policyFileEditedWithoutTheMasterKeyIsRejected() throws {
        try withTemporaryDirectory { folder in
            let fixture = try VaultFixture(folder: folder)
            let path = fixture.path + "/policies.json"
            // Grant "mallory" everything and recompute the checksum, as an attacker without the key could.
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
            let body = text.split(separator: "\n")[0].replacingOccurrences(of: "\"admin\"", with: "\"mallory\"")
            let trailer = text.split(separator: "\n")[1].replacingOccurrences(
                of: #"sha256=[0-9a-f]+"#, with: "sha256=\(SHA256.hexDigest(Array(body.utf8)))",
                options: .regularExpression)
            try Data((body + "\n" + trailer + "\n").utf8).write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: VaultError.self) { try fixture.open(as: "mallory").secrets() }
            #expect(error?.description.contains("MAC does not match") == true)
        }
    }
}

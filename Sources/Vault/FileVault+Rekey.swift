import Crypto
import Foundation
import Support

#if canImport(Glibc)

    import Glibc
#endif

/// `rekey`: rewrapping every data key under a new master key, crash-safe and resumable.
///
/// Steps, each atomic: (1) write `rekey.json` naming the old and new key ids, which from then on
/// makes ``FileVault/open(at:masterKey:principal:readOnly:clock:)`` refuse the vault; (2) rewrite each
/// secret file with every version rewrapped under the new key and the file MAC'd with it; (3)
/// rewrite `policies.json`; (4) rewrite `vault.json` with the new key id; (5) remove `rekey.json`.
/// A kill at any instant leaves files each wholly under the old or the new key, each saying which;
/// running the same rekey again (old key as master key, same new key) finishes the job.

struct RekeyJournal: Codable {
    var oldMasterKeyId: String
    var newMasterKeyId: String
}

extension FileVault {
    /// Rewraps every version of every secret (soft-deleted ones included) under `newMasterKey`.
    /// Needs every permission. Afterwards only the new key opens the vault.
    /// - Parameter afterEachFile: called with how many secret files are rewritten so far, after each one
    ///   (progress); an error it throws stops the rekey there, as a crash would, and the journal stays for
    ///   ``resumeRekey(at:oldMasterKey:newMasterKey:principal:clock:)``.
    public func rekey(to newMasterKey: MasterKey, afterEachFile: (Int) throws -> Void = { _ in }) throws {
        _ = try mutating("rekey", secret: nil, permissions: Set(VaultPermission.allCases)) {
            try Self.performRekey(
                path: path, old: masterKey, new: newMasterKey, clock: clock, afterEachFile: afterEachFile)
        }
    }

    /// Finishes a rekey that was interrupted: `oldMasterKey` is the key the vault had, `newMasterKey` the
    /// one the rekey was moving to. Needs every permission (checked with the policies under either key).
    public static func resumeRekey(
        at path: String, oldMasterKey: MasterKey, newMasterKey: MasterKey, principal: String,
        clock: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        try requireVaultFolder(path)
        let oldID = try oldMasterKey.identifier, newID = try newMasterKey.identifier
        let macKeys = [oldID: try oldMasterKey.fileMACKey, newID: try newMasterKey.fileMACKey]
        let journalPath = path + "/rekey.json"
        guard PrivateFiles.exists(journalPath) else {
            throw VaultError.corrupt(file: journalPath, detail: "there is no interrupted rekey to resume")
        }
        let journal = try VaultFileCodec.read(RekeyJournal.self, from: journalPath, macKeys: macKeys).body
        guard journal.oldMasterKeyId == oldID, journal.newMasterKeyId == newID else {
            throw VaultError.wrongMasterKey(vault: path)
        }
        let policies = try VaultFileCodec.read(PolicyFile.self, from: path + "/policies.json", macKeys: macKeys).body
        let granted = Set(policies.principals[principal] ?? [])
        if let missing = VaultPermission.allCases.first(where: { !granted.contains($0) }) {
            throw VaultError.permissionDenied(
                principal: principal, permission: missing, operation: "rekey", secret: nil)
        }
        try performRekey(path: path, old: oldMasterKey, new: newMasterKey, clock: clock, afterEachFile: { _ in })
        try AuditLog.at(path + "/audit.log").append(
            AuditLog.Entry(
                time: clock(), principal: principal, operation: "rekey (resumed)",
                secret: nil, version: nil, outcome: "ok"), durably: true)
    }

    private static func performRekey(
        path: String, old: MasterKey, new: MasterKey, clock: @escaping @Sendable () -> Date,
        afterEachFile: (Int) throws -> Void
    ) throws {
        let oldID = try old.identifier, newID = try new.identifier
        guard oldID != newID else { return }
        let newMAC = try new.fileMACKey
        let macKeys = [oldID: try old.fileMACKey, newID: newMAC]
        let journalPath = path + "/rekey.json"
        try VaultFileCodec.write(
            RekeyJournal(oldMasterKeyId: oldID, newMasterKeyId: newID), to: journalPath, macKey: newMAC, keyID: newID)
        let secretsFolder = path + "/secrets"
        let names = try FileManager.default.contentsOfDirectory(atPath: secretsFolder).filter {
            $0.hasSuffix(".json") && !$0.hasPrefix(".")
        }.sorted()
        var rewritten = 0
        for name in names {
            let filePath = secretsFolder + "/" + name
            var file = try VaultFileCodec.read(SecretFile.self, from: filePath, macKeys: macKeys).body
            for index in file.versions.indices where file.versions[index].masterKeyId != newID {
                let entry = file.versions[index]
                guard let wrapped = Data(base64Encoded: entry.wrappedKey).map(Array.init) else {
                    throw VaultError.corrupt(
                        file: filePath, detail: "version \(entry.version)'s wrapped key is not base64")
                }
                let binding = wrapBinding(secret: file.name, version: entry.version)
                var keyBytes: [UInt8]
                do {
                    keyBytes = try AESGCM.open(combined: wrapped, key: old.key, associatedData: binding)
                } catch {
                    throw VaultError.corrupt(
                        file: filePath, detail: "version \(entry.version)'s wrapped key does not open")
                }
                defer { wipe(&keyBytes) }
                file.versions[index].wrappedKey = Data(
                    try AESGCM.sealCombined(keyBytes, key: new.key, associatedData: binding)
                )
                .base64EncodedString()
                file.versions[index].masterKeyId = newID
            }
            try VaultFileCodec.write(file, to: filePath, macKey: newMAC, keyID: newID)
            rewritten += 1
            try afterEachFile(rewritten)
        }
        let policies = try VaultFileCodec.read(PolicyFile.self, from: path + "/policies.json", macKeys: macKeys).body
        try VaultFileCodec.write(policies, to: path + "/policies.json", macKey: newMAC, keyID: newID)
        var manifest = try VaultFileCodec.read(VaultManifest.self, from: path + "/vault.json", macKeys: macKeys).body
        manifest.masterKeyId = newID
        try VaultFileCodec.write(manifest, to: path + "/vault.json", macKey: newMAC, keyID: newID)
        guard unlink(journalPath) == 0 else {
            throw FileSystemError(path: journalPath, operation: "unlink", code: errno)
        }
        try PrivateFiles.syncDirectory(path)
    }
}

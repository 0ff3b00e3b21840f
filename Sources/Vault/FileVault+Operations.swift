import Foundation
import Support

/// The vault's own files as operations, so the command line never reads the vault's layout itself and a
/// Swift caller gets the same checks and the same audit.

extension FileVault {
    /// The last `count` entries of the audit log (who did what; never a value), oldest first. Needs
    /// `list` (the check itself is audited). Buffered reads of this process are written first.
    public func auditEntries(last count: Int) throws -> [String] {
        try requirePermission(.list, operation: "read the audit log")
        if !isReadOnly { try flushAuditLog() }
        let text = String(decoding: try PrivateFiles.readPrivate(path + "/audit.log"), as: UTF8.self)
        return text.split(separator: "\n").suffix(max(0, count)).map(String.init)
    }

    /// Whether a rekey of the vault at `path` was interrupted (its journal is there): it must be
    /// finished with ``resumeRekey(at:oldMasterKey:newMasterKey:principal:clock:)`` before anything else.
    public static func hasInterruptedRekey(at path: String) -> Bool {
        PrivateFiles.exists(path + "/rekey.json")
    }
}

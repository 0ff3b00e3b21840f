import Crypto
import Foundation

/// One secret as `state copy` carries it from one vault to another: every version with its data key in
/// memory, the secret's creation time and its soft-delete state. The keys are never written anywhere in
/// this form: the destination wraps each under its own master key (``KeyVault/importSecret(_:)``), and
/// ``SymmetricKey`` wipes its bytes when the value goes away. Never print one.
public struct ExportedSecret: Sendable, Equatable {
    /// One version, with the number tokens are bound to (kept exactly: I2).
    public struct Version: Sendable, Equatable {
        /// The version number.
        public var number: Int
        /// When it was created.
        public var createdAt: Date
        /// Whether new tokens may be sealed with it.
        public var enabled: Bool
        /// Its data key.
        public var key: SymmetricKey

        /// Creates a version.
        public init(number: Int, createdAt: Date, enabled: Bool, key: SymmetricKey) {
            self.number = number
            self.createdAt = createdAt
            self.enabled = enabled
            self.key = key
        }
    }

    /// The secret's name.
    public var name: String
    /// When the secret was created.
    public var createdAt: Date
    /// Every version, ascending.
    public var versions: [Version]
    /// When it was soft-deleted and may be purged; nil for a live secret.
    public var deletion: DeletedSecret?

    /// Creates an exported secret.
    public init(name: String, createdAt: Date, versions: [Version], deletion: DeletedSecret?) {
        self.name = name
        self.createdAt = createdAt
        self.versions = versions
        self.deletion = deletion
    }

    /// The secret with every date cut to the whole second: the precision every backend keeps (the file
    /// vault writes ISO 8601 seconds, PostgreSQL milliseconds), so a secret that went from one backend to
    /// another compares equal to its source in everything it holds.
    public var atWholeSeconds: ExportedSecret {
        func cut(_ date: Date) -> Date { Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)) }
        var secret = self
        secret.createdAt = cut(createdAt)
        for index in secret.versions.indices { secret.versions[index].createdAt = cut(versions[index].createdAt) }
        secret.deletion = deletion.map {
            DeletedSecret(name: $0.name, deletedAt: cut($0.deletedAt), scheduledPurgeAt: cut($0.scheduledPurgeAt))
        }
        return secret
    }
}

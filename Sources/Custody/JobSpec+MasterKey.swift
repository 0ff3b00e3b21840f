import Spec
import Support
import Vault

extension JobSpec {
    /// The master key the spec's `vault.master_key` references: a 0600 file holding the base64 key, or an
    /// environment variable holding it. The one place a job, token use and `status` load it from.
    /// - throws: ``SecretReferenceError`` naming the variable or file, ``MasterKeyError`` for a malformed key.
    package func loadMasterKey(environment: [String: String]) throws -> MasterKey {
        switch masterKey {
        case .file(let path):
            return try MasterKey(contentsOfFile: path)
        case .environment(let name):
            return try MasterKey(
                base64: try masterKey.resolve(environment: environment).revealed, source: "env:\(name)")
        }
    }
}

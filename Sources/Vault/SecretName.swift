/// Key Vault's rule for secret names, kept so another backend can take the same names later.
public enum SecretName {
    /// The rule, as error messages state it.
    public static let rule = "1-127 characters of 0-9, a-z, A-Z and '-'"

    /// Whether `name` follows the rule.
    public static func isValid(_ name: String) -> Bool {
        (1...127).contains(name.utf8.count)
            && name.utf8.allSatisfy { byte in
                (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                    || byte == 0x2D
            }
    }

    /// Refuses a name that does not follow the rule.
    /// - throws: ``VaultError/invalidSecretName(_:)`` naming the rule.
    public static func validate(_ name: String) throws {
        guard isValid(name) else { throw VaultError.invalidSecretName(name) }
    }
}

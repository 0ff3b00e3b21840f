/// The kinds of stage a job has. The raw value is the word the spec and the reports use.
public enum StageKind: String, CaseIterable, Sendable {
    /// Rotates the tenants' keys and rewraps their tokens.
    case rotate
    /// Refreshes tokens at the provider.
    case refresh
    /// Revokes users or tenants.
    case revoke
}

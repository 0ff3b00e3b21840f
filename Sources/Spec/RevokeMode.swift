/// How a revoked user's rows end.
public enum RevokeMode: String, Sendable, Equatable, CaseIterable {
    /// The user is gone: the row is deleted.
    case deleteRecord = "delete-record"
    /// The app's access ends: the refresh token is dropped, the record stays (status revoked).
    case dropRefreshToken = "drop-refresh-token"
}

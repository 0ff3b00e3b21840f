/// Every count a stage reports, so a misspelt name is a compile error rather than a count that reads
/// as 0. The raw value is the snake_case name written into reports (`count.tokens_rewrapped`).
public enum StageCount: String, CaseIterable, Codable, Sendable {
    // Rotate.
    /// Tenants the stage looked at.
    case tenants
    /// Tenants whose key was due for rotation.
    case tenantsDue = "tenants_due"
    /// Tenants whose key and tokens were already current.
    case tenantsUpToDate = "tenants_up_to_date"
    /// Tenants that failed.
    case tenantsFailed = "tenants_failed"
    /// Key versions added.
    case versionsAdded = "versions_added"
    /// Old key versions disabled.
    case versionsDisabled = "versions_disabled"
    /// Old key versions purged.
    case versionsPurged = "versions_purged"
    /// Tokens on an older version (a dry run's plan).
    case tokensToRewrap = "tokens_to_rewrap"
    /// Tokens moved to the newest version.
    case tokensRewrapped = "tokens_rewrapped"
    /// Tokens moved from the old format (sealed under a tenant key) to envelope encryption.
    case tokensMigrated = "tokens_migrated"
    /// Tokens sealed again under a fresh data key (`reseal: true`).
    case tokensResealed = "tokens_resealed"
    /// Write transactions the rotation ran on the store.
    case writeTransactions = "write_transactions"
    /// The rotation's longest write transaction, in microseconds: how long token use may have waited for it.
    case longestWriteMicroseconds = "longest_write_us"
    /// The rotation's longest checkpoint (the durable one before versions are retired included), in microseconds.
    case longestCheckpointMicroseconds = "longest_checkpoint_us"
    // Refresh.
    /// Tokens due for refresh.
    case tokensDue = "tokens_due"
    /// Tokens refreshed at the provider and committed.
    case tokensRefreshed = "tokens_refreshed"
    /// Tokens that need no refresh (the provider's token does not expire).
    case tokensUpToDate = "tokens_up_to_date"
    /// Tokens the provider refused for good: the user must sign in again.
    case tokensReauthRequired = "tokens_reauth_required"
    /// Tokens another process held the lease on.
    case tokensLeasedElsewhere = "tokens_leased_elsewhere"
    /// Tokens that failed for now (timeouts, 5xx, 429): the next run is expected to succeed.
    case tokensTransient = "tokens_transient"
    /// Tokens that failed (any stage).
    case tokensFailed = "tokens_failed"
    /// Tokens not tried because their tenant refused the client.
    case tokensNotTried = "tokens_not_tried"
    /// Tenants whose provider refused the client (the app removed from that tenant, for example).
    case tenantsRefused = "tenants_refused"
    /// Times the provider asked the stage to slow down.
    case rateLimited = "rate_limited"
    // Revoke.
    /// Tenants crypto-shredded.
    case tenantsRevoked = "tenants_revoked"
    /// Tenants revoked before.
    case tenantsAlreadyRevoked = "tenants_already_revoked"
    /// Users whose rows were revoked.
    case usersRevoked = "users_revoked"
    /// Users revoked before.
    case usersAlreadyRevoked = "users_already_revoked"
    /// Users that failed.
    case usersFailed = "users_failed"
    /// Rows deleted.
    case rowsDeleted = "rows_deleted"
    /// Refresh tokens dropped (records kept).
    case tokensDropped = "tokens_dropped"
}

extension Count {
    /// A typed count.
    public init(_ count: StageCount, _ value: Int) {
        self.init(count.rawValue, value)
    }
}

extension StageReport {
    /// The value of a typed count, 0 when the stage did not report it.
    public func count(_ count: StageCount) -> Int {
        counts.first { $0.name == count.rawValue }?.value ?? 0
    }
}

/// What `state copy` moved, checked at the destination: counts only, never a value.
public struct StateCopySummary: Sendable, Equatable {
    /// One tenant's rows.
    public struct Tenant: Sendable, Equatable {
        /// The tenant id.
        public var tenant: String
        /// Its rows, with or without a token.
        public var rows: Int
        /// Its rows holding a token, per key version (equal at source and destination).
        public var tokensPerVersion: [Int: Int]
        /// Its rows holding a token.
        public var tokens: Int { tokensPerVersion.values.reduce(0, +) }
    }

    /// Secrets copied, live and soft-deleted.
    public var secrets = 0
    /// Of which soft-deleted.
    public var deletedSecrets = 0
    /// Versions copied, over all secrets.
    public var versions = 0
    /// Access policies copied.
    public var policies = 0
    /// Rows per tenant, in tenant order.
    public var tenants: [Tenant] = []
    /// Tokens opened at the destination to verify them (and discarded).
    public var tokensOpened = 0
    /// Tokens that open neither at the source nor at the destination (their secret is soft-deleted or gone):
    /// copied as they are.
    public var tokensNotOpenable = 0
    /// Whether this run found the copy done already (the source was marked moved to this destination).
    public var alreadyDone = false
    /// Whether this run resumed an interrupted copy.
    public var resumed = false

    /// Every row copied.
    public var rows: Int { tenants.map(\.rows).reduce(0, +) }
    /// Every token copied.
    public var tokens: Int { tenants.map(\.tokens).reduce(0, +) }

    /// An empty summary.
    public init() {}
}

/// Where a copy is, for a progress meter.
public enum StateCopyStep: Sendable, Equatable {
    /// Waiting for refreshes under way at the source (rows with a live lease).
    case waitingForLeases(rows: Int)
    /// Secrets copied so far.
    case secrets(done: Int, total: Int)
    /// Rows copied so far.
    case rows(done: Int, total: Int)
    /// Rows verified so far (every token opened at the destination).
    case verifying(done: Int, total: Int)
}

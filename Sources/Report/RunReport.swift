import Foundation
import Support

/// What one `tokenkeeper run` did, in the shape every report format is written from.
///
/// Successes are counted, failures are listed: a job over a million users still gives a report any
/// CI can show (one case per tenant per stage plus one per failed item), unless the spec asks for
/// `detail: items`.

public struct RunReport: Codable, Sendable, Equatable {
    /// The job's name from the spec.
    public var job: String
    /// A unique id for this run, also written into the lock file and the properties.
    public var runID: String
    /// The spec file as given.
    public var specPath: String
    /// SHA-256 of the spec's bytes, so a report says exactly which spec it ran.
    public var specSHA256: String
    /// Whether this was a dry run (nothing was changed).
    public var dryRun: Bool
    /// The tokenkeeper version that wrote it.
    public var toolVersion: String
    /// The principal the job acted as.
    public var principal: String
    /// The host it ran on (for the JUnit `hostname`).
    public var hostname: String
    /// When the run started.
    public var startedAt: Date
    /// How long it took, in seconds.
    public var duration: TimeInterval
    /// The stages, in the order they ran (or would have run).
    public var stages: [StageReport]
    /// Which shard of its run this was (`run --shard K/N`); nil for a whole, unsharded run.
    public var shard: Shard?

    /// Shard K of N: the N reports of one run share its ``runID``.
    public struct Shard: Codable, Sendable, Equatable {
        /// K, from 1 to ``count``.
        public var index: Int
        /// N.
        public var count: Int

        /// Shard `index` of `count`.
        public init(index: Int, count: Int) {
            self.index = index
            self.count = count
        }
    }

    /// Creates a report.
    public init(
        job: String, runID: String, specPath: String, specSHA256: String, dryRun: Bool, toolVersion: String,
        principal: String, hostname: String, startedAt: Date, duration: TimeInterval, stages: [StageReport],
        shard: Shard? = nil
    ) {
        self.shard = shard
        self.job = job
        self.runID = runID
        self.specPath = specPath
        self.specSHA256 = specSHA256
        self.dryRun = dryRun
        self.toolVersion = toolVersion
        self.principal = principal
        self.hostname = hostname
        self.startedAt = startedAt
        self.duration = duration
        self.stages = stages
    }

    /// The exit status the run ends with: 0 when every stage passed or was skipped by choice, 1 when an item failed.
    public var exitStatus: ExitStatus {
        stages.contains { $0.result == .failed } ? .itemsFailed : .success
    }
}

/// One stage of a run.
public struct StageReport: Codable, Sendable, Equatable {
    /// How the stage ended.
    public enum Result: String, Codable, Sendable {
        /// Every item passed (or there was nothing to do).
        case passed
        /// At least one item failed, or the stage could not run at all.
        case failed
        /// The stage did not run because an earlier stage failed with `on_failure: stop`.
        case notRun = "not_run"
    }

    /// The stage's name from the spec.
    public var name: String
    /// `rotate`, `revoke` or `refresh`.
    public var kind: String
    /// When it started.
    public var startedAt: Date
    /// How long it took, in seconds.
    public var duration: TimeInterval
    /// How it ended.
    public var result: Result
    /// One line for people: "3 tenants up to date, 1 rotated (1,000 tokens rewrapped)".
    public var summary: String
    /// Named counts (for example `tokens_rewrapped`), in the order the stage reports them.
    public var counts: [Count]
    /// The testcases: one per tenant, plus one per failed item (or one per item with `detail: items`).
    public var cases: [CaseReport]
    /// Lines of detail for people (the JUnit `system-out`): what each tenant's plan was, what was done.
    public var log: [String]

    /// Creates a stage report.
    public init(
        name: String, kind: String, startedAt: Date, duration: TimeInterval, result: Result, summary: String,
        counts: [Count] = [], cases: [CaseReport] = [], log: [String] = []
    ) {
        self.name = name
        self.kind = kind
        self.startedAt = startedAt
        self.duration = duration
        self.result = result
        self.summary = summary
        self.counts = counts
        self.cases = cases
        self.log = log
    }

    /// How many cases passed, failed, errored and were skipped.
    public var tally: CaseTally { CaseTally(cases) }
}

/// A named count of a stage, such as `tokens_rewrapped: 1000`.
public struct Count: Codable, Sendable, Equatable {
    /// What is counted, snake_case (`tokens_rewrapped`).
    public var name: String
    /// How many.
    public var value: Int

    /// Creates a count.
    public init(_ name: String, _ value: Int) {
        self.name = name
        self.value = value
    }
}

/// One testcase: a tenant of a stage, or one item (`tenant/user/provider`).
public struct CaseReport: Codable, Sendable, Equatable {
    /// How the case ended.
    public enum Status: String, Codable, Sendable {
        /// Done, or already in the desired state.
        case passed
        /// The item failed for a known reason (``FailureType``).
        case failed
        /// The step could not run at all (for example the vault refused it); JUnit `error`.
        case errored
        /// Not attempted (nothing to do for a reason worth showing, or the stage did not run).
        case skipped
    }

    /// The tenant, or `tenant/user/provider` for an item.
    public var name: String
    /// How it ended.
    public var status: Status
    /// Why it failed, for failed and errored cases.
    public var failureType: FailureType?
    /// The provider's or tokenkeeper's error code, when there is one (for example `AADSTS700082`).
    public var code: String?
    /// What happened, for people: "rewrapped 1,000 tokens to version 3", or the error with its remedy.
    public var message: String
    /// How long it took, in seconds.
    public var duration: TimeInterval

    /// Creates a case.
    public init(
        name: String, status: Status, failureType: FailureType? = nil, code: String? = nil, message: String,
        duration: TimeInterval = 0
    ) {
        self.name = name
        self.status = status
        self.failureType = failureType
        self.code = code
        self.message = message
        self.duration = duration
    }
}

/// Counts of cases by status.
public struct CaseTally: Sendable, Equatable {
    /// Every case.
    public var total = 0
    /// Cases that passed.
    public var passed = 0
    /// Cases that failed (JUnit `failure`).
    public var failed = 0
    /// Cases that could not run (JUnit `error`).
    public var errored = 0
    /// Cases skipped.
    public var skipped = 0

    /// Tallies `cases`.
    public init(_ cases: [CaseReport]) {
        for item in cases {
            total += 1
            switch item.status {
            case .passed: passed += 1
            case .failed: failed += 1
            case .errored: errored += 1
            case .skipped: skipped += 1
            }
        }
    }
}

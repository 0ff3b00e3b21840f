import Foundation

/// The benchmark's command line.
struct BenchOptions {
    /// Store sizes to measure, in order (memory should not grow with them).
    var sizes = [1_000_000]
    /// Tenants the tokens are spread over (default 100 for the rotation, 10 for the refresh).
    var tenants: Int?
    /// Bytes per refresh token.
    var tokenBytes = 1_200
    /// Where stores are created (removed afterwards unless `keep`).
    var directory = NSTemporaryDirectory()
    /// The tokenkeeper binary to time.
    var tokenkeeper: String
    /// The Python that runs the baseline (needs the `cryptography` package).
    var python = ".venv/bin/python"
    /// The baseline script.
    var baseline = "../shared/bench/python_rewrap.py"
    /// The plain C reference (scripts/reference/c_rewrap.c, built by scripts/bench), run on a copy of
    /// the baseline's seeded table; nil to leave it out.
    var cReference: String?
    /// The plain C rewrap of the envelope layout (scripts/reference/c_envelope_rewrap.c, built by scripts/bench),
    /// which seeds its own table of N sealed data keys; nil to leave it out.
    var cEnvelopeReference: String?
    /// The store the rotation benchmark runs on: `sqlite` (default) or `postgres` (a local server it starts).
    var backend = "sqlite"
    /// The PostgreSQL baseline script (psycopg 3), for `--backend postgres`.
    var postgresBaseline = "../shared/bench/python_rewrap_pg.py"
    /// Skip the Python baseline (and the C reference, which runs on the baseline's table).
    var skipBaseline = false
    /// Keep the stores afterwards.
    var keep = false
    /// Instead of the rotation, time `report show` and `report diff` on reports of this many testcases.
    var reportCases: Int?
    /// Run this spec in-process on the main thread (for profilers that sample only the main thread).
    var runSpec: String?
    /// Only seed (and keep) the store, for profiling `tokenkeeper run` by hand.
    var seedOnly = false
    /// Instead of the rotation, time library token use (`TokenAccess`) for this many users.
    var accessUsers: Int?
    /// Instead of the rotation, time token access for `accessUsers` (default 20) users idle and while a
    /// rotation of this many tokens runs.
    var accessDuringRotation: Int?
    /// Calls per phase of `--access-during-rotation` (the during phase ends with the rotation).
    var accessCalls = 200
    /// Milliseconds between the starts of two calls of `--access-during-rotation`.
    var accessIntervalMilliseconds = 100
    /// Concurrent tasks calling `TokenAccess`.
    var accessTasks = 8
    /// Rounds of each token use phase (the summary gives their medians).
    var accessRounds = 3
    /// Warm (cache hit) calls per round.
    var warmCalls = 20_000
    /// Instead of the rotation, time a refresh stage of this many tokens against the project's identity provider.
    var refreshTokens: Int?
    /// Instead of the rotation, time `token import` of this many JSON lines responses.
    var importResponses: Int?
    /// The many-web-hosts load test (``LoadTestBenchmark``) and its sizes.
    var loadTest = false
    var loadTokens = 50_000
    var loadTenants = 200
    var loadHosts = 8
    var loadRate = 20.0
    var loadHot = 500
    var loadSeconds = 30
    var loadMaxSeconds = 900
    var loadPool = 4
    /// The refresh stage's `max_rate` in the load test's job (all shards together), per second.
    var loadJobRate = 200
    /// A load test host's schedule and output files (a child process of the load test).
    var loadHost: (schedule: String, output: String)?
    /// This benchmark's own executable (the load test starts its hosts with it).
    var benchExecutable = CommandLine.arguments[0]
    /// Instead of the rotation, time opening one token through the library (warm key cache) in a store of this many.
    var openTokens: Int?
    /// Requests in flight at once in the refresh benchmark.
    var concurrency = 16
    /// The identity provider the token use and refresh benchmarks start (Tests/IdentityProvider/idp.py).
    var identityProvider = "Tests/IdentityProvider/idp.py"

    static let help = """
        USAGE: tokenkeeper-bench [--tokens N[,N...]] [--tenants 100] [--token-bytes 1200] [--dir DIR]
                                 [--tokenkeeper PATH] [--python PATH] [--baseline PATH] [--c-reference PATH]
                                 [--c-envelope-reference PATH] [--no-baseline] [--keep] [--seed-only]
               tokenkeeper-bench --backend postgres [--tokens N[,N...]] [--tenants 100] [--token-bytes 1200] [--dir DIR]
                                 [--python PATH] [--postgres-baseline PATH] [--no-baseline] [--keep]
               tokenkeeper-bench --report-cases 100000
               tokenkeeper-bench --access-users 500 [--access-tasks 8] [--access-rounds 3] [--warm-calls 20000]
                                 [--python PATH] [--idp Tests/IdentityProvider/idp.py]
               tokenkeeper-bench --access-during-rotation 1000000 [--access-users 20] [--access-calls 200]
                                 [--access-interval-ms 100] [--tenants 100] [--token-bytes 1200] [--idp PATH] [--python PATH]
               tokenkeeper-bench --import 1000000 [--tenants 100] [--token-bytes 1200] [--dir DIR] [--keep]
               tokenkeeper-bench --refresh 3000 [--concurrency 16] [--tenants 10] [--idp PATH] [--python PATH]
               tokenkeeper-bench --open-token 1000 [--tenants 100] [--token-bytes 1200]

        Seeds N synthetic refresh tokens over the tenants (each tenant's key version 1 dated 40 days ago), then
        times `tokenkeeper run` of a rotate job (every token rewrapped under a new version) and a second, no-op
        run, and runs the Python baseline (../shared/bench/python_rewrap.py) on the same N in the same run:
        it seeds its table, which is copied, then rewraps it; with --c-reference, the plain C program
        (scripts/reference/c_rewrap.c) rewraps the copy the same way; with --c-envelope-reference, the plain C
        program scripts/reference/c_envelope_rewrap.c seeds N 48-byte sealed data keys (the envelope layout of
        issue 14) in its own table and rewraps them with the same settings. Prints rows per second, the ratios,
        each child's own peak memory (measured with GNU time) and the no-op time, then one JSON line. --seed-only stops after seeding and keeps the folder (its path and the
        master key are printed) so `tokenkeeper run rotate.yml` can be profiled by hand; --run-spec SPEC runs a
        spec in-process on the main thread (for profilers). --report-cases N instead times `tokenkeeper report show`
        and `report diff` on JUnit reports of N testcases. --access-users N instead times token use through the library
        (TokenAccess) against the project's identity provider, started on 127.0.0.1: cold calls (every one redeems,
        forceRefresh) and warm calls (cache hits), p50/p99 latency and this process's CPU per call, from concurrent
        tasks; then that many callers of one user at once on an empty cache, and the provider's redemption count.
        --backend postgres instead starts a local PostgreSQL server (initdb in a temporary folder, Unix socket only,
        the server's default settings, which it prints; as the user tokenkeeper-pg when run as root), seeds N tokens
        through the library (timing the store's insertBatch), runs the rotate stage in a child process (the runner's
        stage on a PostgresTokenStore, until specs can name a PostgreSQL store) and a no-op run, then the baseline
        ../shared/bench/python_rewrap_pg.py (psycopg 3) on its own database of N rows: rates, the ratio (target >= 4x),
        peak memory (target < 64 MiB), the no-op's time (target < 0.2 s). The server is stopped and removed at the end.
        --access-during-rotation N instead seeds N tokens (as the rotation) and 20 users whose tokens are real refresh
        tokens at the project's identity provider (started on 127.0.0.1), then calls token access for those users at a
        fixed rate (one call every 100 ms, 200 calls): `tokenkeeper token access` (a process per call, redeeming every
        time: the primary figure) and the library's TokenAccess, cold (forceRefresh) and warm (cached); first idle, then
        while `tokenkeeper run` rotates every tenant (until the rotation ends). Prints p50 and max, idle and during, the
        rotation's time and whether issue 14's target holds (during p50 <= 2 x idle p50 + 50 ms, max < 1 s).
        --load-test: many web hosts on PostgreSQL (a local server, Unix socket): --load-tokens (50,000) real tokens at
        the project's identity provider over --load-tenants (200); --load-hosts (8) processes using TokenAccess (pool
        --load-pool, 4) ask at --load-rate (20/s, open loop) for --load-hot (500) hot users, half forced refreshes:
        --load-seconds (30) idle, then during a 2-shard run (rotate + refresh at max_rate --load-job-rate, 200/s for the
        whole job: the job's share of the provider, as an operator sets it; at most --load-max-seconds, 900). Checks
        the provider's reuse counter, every token, the per-version counts; prints p50/p99 and whether p99 during <=
        3 x p99 idle.
        --import N instead writes N token endpoint responses (JSON lines) and times `tokenkeeper token import`
        of them into a new vault and store: tokens per second and its peak memory.
        --refresh N instead starts the project's identity provider
        (Tests/IdentityProvider/idp.py, rotating refresh tokens) on 127.0.0.1, signs N users in, stores their tokens as
        due, and times `tokenkeeper run` of a refresh stage (concurrency 16): tokens per second, and tokenkeeper's
        own CPU time (user + system, from GNU time) per refresh; the run is killed after 60 s + 20 ms per token.
        --open-token N instead puts N tokens in a new vault and store and times opening one token through the library
        (TokenCustodian.open: the row read, then decrypted) with a warm key cache: p50, p99 and mean in microseconds. Build with `swift build -c release` first (scripts/bench does, and builds the C reference).
        """

    init(arguments: [String]) throws {
        tokenkeeper =
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                "tokenkeeper"
            ).path
        var rest = arguments[...]
        func value(_ name: String) throws -> String {
            guard let next = rest.popFirst() else { throw BenchUsage("\(name) needs a value", isHelp: false) }
            return next
        }
        func number(_ name: String, _ text: String) throws -> Int {
            guard let value = Int(text.replacingOccurrences(of: "_", with: "")), value > 0 else {
                throw BenchUsage("\(name): '\(text)' is not a positive whole number", isHelp: false)
            }
            return value
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--tokens":
                sizes = try value(argument).split(separator: ",").map { try number("--tokens", String($0)) }
            case "--tenants": tenants = try number(argument, try value(argument))
            case "--token-bytes": tokenBytes = try number(argument, try value(argument))
            case "--dir": directory = try value(argument)
            case "--tokenkeeper": tokenkeeper = try value(argument)
            case "--python": python = try value(argument)
            case "--baseline": baseline = try value(argument)
            case "--c-reference": cReference = try value(argument)
            case "--c-envelope-reference": cEnvelopeReference = try value(argument)
            case "--no-baseline": skipBaseline = true
            case "--backend":
                backend = try value(argument)
                guard ["sqlite", "postgres"].contains(backend) else {
                    throw BenchUsage("--backend: '\(backend)' is neither sqlite nor postgres", isHelp: false)
                }
            case "--postgres-baseline": postgresBaseline = try value(argument)
            case "--keep": keep = true
            case "--report-cases": reportCases = try number(argument, try value(argument))
            case "--run-spec": runSpec = try value(argument)
            case "--seed-only": seedOnly = true; keep = true
            case "--access-users": accessUsers = try number(argument, try value(argument))
            case "--access-during-rotation": accessDuringRotation = try number(argument, try value(argument))
            case "--access-calls": accessCalls = try number(argument, try value(argument))
            case "--access-interval-ms": accessIntervalMilliseconds = try number(argument, try value(argument))
            case "--access-tasks": accessTasks = try number(argument, try value(argument))
            case "--access-rounds": accessRounds = try number(argument, try value(argument))
            case "--warm-calls": warmCalls = try number(argument, try value(argument))
            case "--refresh": refreshTokens = try number(argument, try value(argument))
            case "--import": importResponses = try number(argument, try value(argument))
            case "--open-token": openTokens = try number(argument, try value(argument))
            case "--concurrency": concurrency = try number(argument, try value(argument))
            case "--idp": identityProvider = try value(argument)
            case "--load-test": loadTest = true
            case "--load-tokens": loadTokens = try number(argument, try value(argument))
            case "--load-tenants": loadTenants = try number(argument, try value(argument))
            case "--load-hosts": loadHosts = try number(argument, try value(argument))
            case "--load-rate": loadRate = Double(try number(argument, try value(argument)))
            case "--load-hot": loadHot = try number(argument, try value(argument))
            case "--load-seconds": loadSeconds = try number(argument, try value(argument))
            case "--load-max-seconds": loadMaxSeconds = try number(argument, try value(argument))
            case "--load-pool": loadPool = try number(argument, try value(argument))
            case "--load-job-rate": loadJobRate = try number(argument, try value(argument))
            case "--load-host": loadHost = (try value(argument), try value(argument))
            case "--help", "-h": throw BenchUsage(Self.help, isHelp: true)
            default: throw BenchUsage("unknown argument '\(argument)'\n\n\(Self.help)", isHelp: false)
            }
        }
    }
}

/// A usage problem (or `--help`), printed as is.
struct BenchUsage: Error, CustomStringConvertible {
    let description: String
    let isHelp: Bool
    init(_ description: String, isHelp: Bool) {
        self.description = description
        self.isHelp = isHelp
    }
}

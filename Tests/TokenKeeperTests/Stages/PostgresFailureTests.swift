import Testing

@testable import PostgresClient
@testable import Report
@testable import Stages
@testable import Store

/// How a stage's report files a PostgreSQL failure: what a later run may finish is transient.
@Suite struct PostgresFailureTests {
    private func error(_ sqlState: String?) -> PostgresError {
        PostgresError(
            location: "postgres:env:TOKENKEEPER_STORE_URL", operation: "commit a refreshed token", sqlState: sqlState,
            message: "server message")
    }

    @Test func aLostConnectionASerializationFailureOrADeadlockIsTransient() {
        // Unreachable server, backend terminated, connection failure, serialization failure, deadlock, lock timeout.
        for state in [nil, "57P01", "08006", "40001", "40P01", "55P03"] {
            let classified = FailureClassifier.classify(error(state))
            #expect(classified.type == .transient, "\(state ?? "no SQLSTATE")")
            #expect(classified.code == "postgres_" + (state?.lowercased() ?? "connection"))
        }
    }

    @Test func aConstraintOrPermissionFailureIsAnEnvironmentFailureAndDamageIsCorrupt() {
        #expect(FailureClassifier.classify(error("23505")).type == .environment)
        #expect(FailureClassifier.classify(error("42501")).type == .environment)
        #expect(FailureClassifier.classify(error("XX001")).type == .corrupt)
    }
}

import Foundation
import Support
import Testing

@testable import PostgresClient
@testable import Store

/// The TLS rule of the PostgreSQL backends: a server off this host is reached only with
/// `sslmode=verify-full`, whatever the connection string says, unless the spec accepts less.
@Suite struct PostgresTLSTests {
    @Test func onlyUnixSocketsAndLoopbackAddressesStayOnThisHost() {
        let onHost = [
            "host=/run/postgresql", "host=@abstract", "host=localhost", "host=127.0.0.1", "host=127.1.2.3", "host=::1",
            "postgresql:///tokens?host=/tmp/pg", "postgresql://localhost:5433/tokens", "dbname=tokens",
            "hostaddr=127.0.0.1",
        ]
        for connectionString in onHost {
            #expect(!PostgresTLS.leavesThisHost(connectionString, environment: [:]), "\(connectionString)")
        }
        let offHost = [
            "host=db.example.com", "host=10.0.0.5", "hostaddr=10.0.0.5", "host=localhost,db.example.com",
            "postgresql://user:pw@db.example.com/tokens", "host=127.0.0.1.example.com", "host=2001:db8::1",
        ]
        for connectionString in offHost {
            #expect(PostgresTLS.leavesThisHost(connectionString, environment: [:]), "\(connectionString)")
        }
        // Without a host in the string, libpq takes PGHOST.
        #expect(PostgresTLS.leavesThisHost("dbname=tokens", environment: ["PGHOST": "db.example.com"]))
        #expect(!PostgresTLS.leavesThisHost("host=/tmp/pg", environment: ["PGHOST": "db.example.com"]))
    }

    @Test func aServerOffThisHostGetsVerifyFullWhateverTheStringSaysUnlessTheSpecAcceptsLess() throws {
        let server = try PostgresTestServer.shared()
        let database = try server.createDatabase()
        // libpq tries the hosts in turn: the socket answers, but the string names a host off this machine too.
        let mixed =
            "host=\(server.folder),db.example.invalid dbname=\(database) user=\(PostgresTestServer.superuser) sslmode=disable"
        let verified = try PostgresConnection(connectionString: mixed, location: "postgres:test", readOnly: false)
        #expect(verified.effectiveOption("sslmode") == "verify-full")
        let unverified = try PostgresConnection(
            connectionString: mixed, location: "postgres:test", readOnly: false, tls: .unverified)
        #expect(unverified.effectiveOption("sslmode") == "disable")
        let local = try PostgresConnection(
            connectionString: server.connectionString(database: database) + " sslmode=disable",
            location: "postgres:test", readOnly: false)
        #expect(local.effectiveOption("sslmode") == "disable")
    }
}

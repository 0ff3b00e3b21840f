import Foundation
import Testing

@testable import Spec
@testable import Support

/// The spec and the command line name where the state is: a file, or PostgreSQL through a reference to
/// the connection string (a secret, never inline, never repeated).
@Suite struct StateLocationSpecTests {
    private func parse(_ text: String) throws -> JobSpec {
        try JobSpec.parse(text: text, fileName: "job.yml", sourcePath: "/specs/job.yml")
    }

    private func errors(_ text: String) -> String {
        do {
            _ = try parse(text)
            return "(accepted)"
        } catch {
            return "\(error)"
        }
    }

    private static func spec(vault: String, store: String) -> String {
        "version: 1\nname: n\nvault:\n\(vault)store:\n\(store)stages:\n  - name: r\n    kind: rotate\n    tenants: all\n"
    }

    @Test func theStoreOnPostgresIsNamedByAReferenceToItsConnectionString() throws {
        let spec = try parse(
            Self.spec(vault: "  path: ./v\n", store: "  postgres: env:TOKENKEEPER_STORE_URL\n"))
        #expect(spec.store == .postgres(connection: .environment("TOKENKEEPER_STORE_URL"), tls: .verifiedOffHost))
        #expect(spec.store.description == "postgres:env:TOKENKEEPER_STORE_URL")
        let fromFile = try parse(Self.spec(vault: "  path: ./v\n", store: "  postgres: file:./secrets/store.url\n"))
        #expect(fromFile.store == .postgres(connection: .file("/specs/secrets/store.url"), tls: .verifiedOffHost))
    }

    @Test func theVaultOnPostgresIsNamedByAReferenceBesideItsMasterKey() throws {
        let spec = try parse(
            Self.spec(
                vault: "  postgres: env:TOKENKEEPER_VAULT_URL\n  master_key: env:KEY\n", store: "  sqlite: ./s.db\n"))
        #expect(spec.vault == .postgres(connection: .environment("TOKENKEEPER_VAULT_URL"), tls: .verifiedOffHost))
        #expect(spec.masterKey == .environment("KEY"))
        #expect(spec.store == .sqlite(path: "/specs/s.db"))
    }

    @Test func anInlineConnectionStringIsRefusedAtItsPositionWithoutBeingRepeated() {
        let secret = "postgres://app:hunter2-password@db.example.com/tokens"
        let message = errors(Self.spec(vault: "  path: ./v\n", store: "  postgres: \(secret)\n"))
        #expect(message.contains("job.yml:6:13: error:"), "\(message)")
        #expect(message.contains("env:NAME") && message.contains("file:PATH"), "\(message)")
        #expect(!message.contains("hunter2") && !message.contains("db.example.com"), "\(message)")
        let keywords = errors(
            Self.spec(vault: "  postgres: 'host=db password=hunter2'\n  master_key: env:K\n", store: "  sqlite: ./s\n"))
        #expect(keywords.contains("job.yml:4:13: error:"), "\(keywords)")
        #expect(!keywords.contains("hunter2"), "\(keywords)")
    }

    @Test func tlsUnverifiedIsSaidInSoManyWordsAndOnlyBesidePostgres() throws {
        let unverified = try parse(
            Self.spec(vault: "  path: ./v\n", store: "  postgres: env:URL\n  tls: unverified\n"))
        #expect(unverified.store == .postgres(connection: .environment("URL"), tls: .unverified))
        let verified = try parse(Self.spec(vault: "  path: ./v\n", store: "  postgres: env:URL\n  tls: verify-full\n"))
        #expect(verified.store == .postgres(connection: .environment("URL"), tls: .verifiedOffHost))
        #expect(
            errors(Self.spec(vault: "  path: ./v\n", store: "  postgres: env:URL\n  tls: off\n")).contains(
                "'off' is not one of verify-full, unverified"))
        #expect(
            errors(Self.spec(vault: "  path: ./v\n", store: "  sqlite: ./s\n  tls: unverified\n")).contains(
                "'tls' applies only to 'postgres'"))
    }

    @Test func aBackendBlockNamesExactlyOneBackend() {
        #expect(
            errors(Self.spec(vault: "  path: ./v\n", store: "  sqlite: ./s\n  postgres: env:URL\n")).contains(
                "store names both 'sqlite' and 'postgres'"))
        #expect(
            errors(Self.spec(vault: "  master_key: env:K\n", store: "  sqlite: ./s\n")).contains(
                "missing 'path' or 'postgres'"))
    }

    @Test func theCommandLineTakesAPathOrAPostgresReferenceThroughOneParser() throws {
        #expect(
            try StateLocationText.parse("./state/tokens.db", option: "--store", baseDirectory: "/w")
                == .path("./state/tokens.db"))
        #expect(
            try StateLocationText.parse("postgres:env:TOKENKEEPER_STORE_URL", option: "--store", baseDirectory: "/w")
                == .postgres(.environment("TOKENKEEPER_STORE_URL")))
        #expect(
            try StateLocationText.parse("postgres:file:conn/store.url", option: "--store", baseDirectory: "/w")
                == .postgres(.file("/w/conn/store.url")))
    }

    @Test func aConnectionStringOnTheCommandLineIsRefusedWithoutBeingRepeated() {
        for given in [
            "postgres://app:hunter2@db.example.com/tokens", "postgresql://app:hunter2@db/tokens",
            "host=db.example.com password=hunter2", "postgres:host=db password=hunter2", "postgres:env:",
        ] {
            let error = #expect(throws: StateLocationError.self) {
                try StateLocationText.parse(given, option: "TOKENKEEPER_STORE", baseDirectory: "/w")
            }
            let message = error.map { "\($0)" } ?? ""
            #expect(!message.contains("hunter2") && !message.contains("db.example.com"), "\(message)")
            #expect(message.contains("TOKENKEEPER_STORE") && message.contains("postgres:env:NAME"), "\(message)")
            #expect(error?.exitStatus == .usage)
        }
    }
}

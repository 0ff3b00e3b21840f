import Foundation
import Testing

@testable import PostgresClient

/// The vault and the store each through a role of its own (scripts/postgres/vault-role.sql and
/// store-role.sql, as the README sets them up): a job and token use run through those roles, and neither
/// role can read the other's tables.
@Suite struct PostgresRolesTests {
    @Test func aJobAndTokenUseRunThroughTheStoresOwnRoleWhichCannotReadTheVaultsTablesNorTheVaultsRoleTheStores()
        async throws
    {
        try await withTemporaryDirectory { folder in
            let server = try PostgresTestServer.shared()
            let database = try server.createDatabase()
            // Roles are the cluster's: names of this test's own.
            let suffix = String(database.suffix(12))
            let vaultRole = "tk_vault_\(suffix)", storeRole = "tk_store_\(suffix)"
            let superuser = try PostgresConnection(
                connectionString: server.connectionString(database: database), location: "test", readOnly: false)
            for (script, role, name) in [
                ("vault-role.sql", vaultRole, "tokenkeeper_vault"), ("store-role.sql", storeRole, "tokenkeeper_store"),
            ] {
                let text = try String(
                    contentsOfFile: TestEnvironment.packageRoot + "/scripts/postgres/" + script, encoding: .utf8)
                try superuser.execute(text.replacingOccurrences(of: name, with: role), purpose: "test: \(script)")
            }
            let asVault = "host=\(server.folder) dbname=\(database) user=\(vaultRole)"
            let asStore = "host=\(server.folder) dbname=\(database) user=\(storeRole)"
            let idp = try TestIdentityProvider()
            var environment = [
                "TOKENKEEPER_VAULT_URL": asVault, "TOKENKEEPER_STORE_URL": asStore, "TOKENKEEPER_PRINCIPAL": "pipeline",
                "TOKENKEEPER_VAULT": "postgres:env:TOKENKEEPER_VAULT_URL",
                "TOKENKEEPER_STORE": "postgres:env:TOKENKEEPER_STORE_URL", "IDP_CLIENT_SECRET": idp.clientSecret,
                "CI": "true",
            ]
            func tokenkeeper(_ arguments: [String], stdin: String = "") async throws -> ProcessResult {
                let environment = environment
                return try await offThePool {
                    try runTokenKeeper(arguments, environment: environment, stdin: stdin, workingDirectory: folder)
                }
            }
            let initialized = try await tokenkeeper(
                ["vault", "init", "postgres:env:TOKENKEEPER_VAULT_URL", "--master-key-out", "master.key"])
            #expect(initialized.status == 0, "\(initialized.stderr)")
            environment["TOKENKEEPER_MASTER_KEY"] = try String(contentsOfFile: folder + "/master.key", encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            let stateInit = try await tokenkeeper(["state", "init"])
            #expect(stateInit.status == 0, "\(stateInit.stderr)")
            let tokens =
                try await idp.admin("admin/signin", ["tenant": "t1", "users": ["alice", "bob"]])["refresh_tokens"]
                as! [String]
            for (user, token) in zip(["alice", "bob"], tokens) {
                let put = try await tokenkeeper(
                    ["token", "put", "--tenant", "t1", "--user", user, "--provider", "local"], stdin: token + "\n")
                #expect(put.status == 0, "\(put.stderr)")
            }
            // Each role's tables are in its own schema.
            let schemas = try superuser.query(
                """
                SELECT table_name::text, table_schema::text FROM information_schema.tables
                WHERE table_name IN ('tokens', 'token_keys', 'vault_versions') ORDER BY table_name
                """, purpose: "test")
            #expect((0..<schemas.count).map { schemas.text($0, 1) } == ["store", "store", "vault"])
            let spec = """
                version: 1
                name: roles
                principal: pipeline
                vault:
                  postgres: env:TOKENKEEPER_VAULT_URL
                  master_key: env:TOKENKEEPER_MASTER_KEY
                store:
                  postgres: env:TOKENKEEPER_STORE_URL
                \(idp.providerYAML())stages:
                  - name: rotate-keys
                    kind: rotate
                    tenants: all
                    max_key_age: 1s
                  - name: refresh-tokens
                    kind: refresh
                    provider: local
                    refresh_after: 1s

                """
            try Data(spec.utf8).write(to: URL(fileURLWithPath: folder + "/job.yml"))
            try await Task.sleep(nanoseconds: 1_200_000_000)  // the keys and tokens are over a second old
            let run = try await tokenkeeper(["run", "job.yml"])
            #expect(run.status == 0, "\(run.stderr)")
            let versions = try superuser.query(
                "SELECT DISTINCT key_version::int8 FROM store.token_keys", purpose: "test")
            #expect(versions.count == 1 && versions.int(0, 0) == 2, "the rotation rewrapped every data key")
            let access = try await tokenkeeper(
                ["token", "access", "--spec", "job.yml", "--tenant", "t1", "--user", "alice", "--provider", "local"])
            #expect(access.status == 0, "\(access.stderr)")
            #expect(!access.stdout.isEmpty)
            // Neither role reads the other's tables.
            let storeSession = try PostgresConnection(connectionString: asStore, location: "test", readOnly: false)
            for query in ["SELECT count(*) FROM vault.vault_versions", "SELECT count(*) FROM vault.vault_meta"] {
                let error = #expect(throws: PostgresError.self) { try storeSession.query(query, purpose: "test") }
                #expect(error?.sqlState == "42501", "\(query)")
            }
            let vaultSession = try PostgresConnection(connectionString: asVault, location: "test", readOnly: false)
            for query in [
                "SELECT count(*) FROM store.tokens", "SELECT count(*) FROM store.token_keys",
                "SELECT count(*) FROM store.store_identity",
            ] {
                let error = #expect(throws: PostgresError.self) { try vaultSession.query(query, purpose: "test") }
                #expect(error?.sqlState == "42501", "\(query)")
            }
            // The store's role owns its tables and nothing more: no superuser, no role or database creation.
            let store = try superuser.query(
                "SELECT rolsuper::text, rolcreaterole::text, rolcreatedb::text FROM pg_roles WHERE rolname = $1",
                [.text(storeRole)],
                purpose: "test")
            #expect((0..<3).map { store.text(0, $0) } == ["false", "false", "false"])
        }
    }
}

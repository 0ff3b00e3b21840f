import Foundation
import Testing

@testable import Custody
@testable import Store
@testable import Support
@testable import Vault

/// `state copy` in the library (issue 15, point 5): a whole state moves to another vault and store, tokens
/// as sealed bytes, verified at the destination, and the source is left marked so nothing uses it again.
@Suite struct StateCopyTests {
    /// A source state with something of everything: two tenants, one rotated (versions 1 and 2, version 1
    /// disabled but still used by a row), a revoked row, a soft-deleted tenant secret whose tokens cannot
    /// open, and three policies.
    struct World {
        let folder: String
        let fixture: JobFixture
        let destinationKey: MasterKey
        var destinationVaultPath: String { folder + "/moved/vault" }
        var destinationStorePath: String { folder + "/moved/tokens.db" }
        static let users = 4

        init(_ folder: String) throws {
            self.folder = folder
            fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1", "t2", "gone"], usersPerTenant: Self.users)
            let vault = try fixture.custodian().vault
            _ = try vault.addVersion(to: "t1")
            let custodian = try fixture.custodian()
            let rotated = TokenKey(tenant: "t1", user: "u0", provider: "entra")
            try custodian.put(rotated, token: JobFixture.token(for: rotated), issuedAt: fixture.origin, expiresAt: nil)
            try vault.disableVersion(secret: "t1", version: 1)
            _ = try custodian.dropRefreshToken(TokenKey(tenant: "t2", user: "u1", provider: "entra"))
            try vault.deleteSecret("gone")
            try vault.setPolicy(for: "web-host", permissions: [.get])
            try vault.setPolicy(for: "auditor", permissions: [.list])
            destinationKey = try MasterKey.generate()
            try PrivateFiles.createPrivateDirectory(folder + "/moved")
            _ = try FileVault.initialize(at: destinationVaultPath, masterKey: destinationKey, principal: "pipeline")
        }

        func sourceVault() throws -> FileVault {
            try FileVault.open(at: fixture.vaultPath, masterKey: fixture.masterKey, principal: "pipeline")
        }
        func destinationVault() throws -> FileVault {
            try FileVault.open(at: destinationVaultPath, masterKey: destinationKey, principal: "pipeline")
        }

        /// A copier from the fixture's state to the `moved` folder (the store made as `state copy` makes it).
        func copier() throws -> StateCopier {
            let source = try sourceVault()
            let destination = try destinationVault()
            return StateCopier(
                sourceVault: source, sourceStore: try StateBinding.openStore(at: fixture.storePath, vault: source),
                destinationVault: destination,
                destinationStore: try StateBinding.openStore(
                    at: destinationStorePath, vault: destination, source: .createForNewVault))
        }

        /// Every row of a store, in key order.
        static func rows(_ store: any TokenStore) throws -> [CopiedTokenRow] {
            var rows: [CopiedTokenRow] = [], after: TokenKey?
            while true {
                let batch = try store.copyRows(after: after, limit: 7)
                guard let last = batch.last else { return rows }
                rows += batch
                after = last.token.key
            }
        }
    }

    @Test func afterTheCopyEveryTokenOpensAtTheDestinationAndTheSourceRefusesUseNamingIt() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let before = try World.rows(SQLiteTokenStore(path: world.fixture.storePath))
            let copier = try world.copier()
            copier.batchSize = 3
            let summary = try copier.run()

            // Every row arrived as it was; every token of a live secret opens to the value stored at the source.
            let destination = TokenCustodian(
                vault: try world.destinationVault(), store: try SQLiteTokenStore(path: world.destinationStorePath))
            let after = try World.rows(destination.store)
            #expect(after.count == before.count && zip(before, after).allSatisfy { $0.sameState(as: $1) })
            for row in after where row.token.sealedToken != nil && row.token.key.tenant != "gone" {
                #expect(try destination.open(row.token) == JobFixture.token(for: row.token.key))
            }
            #expect(summary.rows == 3 * World.users && summary.tokens == 3 * World.users - 1)
            #expect(summary.tokensOpened == 2 * World.users - 1 && summary.tokensNotOpenable == World.users)
            #expect(summary.tenants.first { $0.tenant == "t1" }?.tokensPerVersion == [1: World.users - 1, 2: 1])
            #expect(try destination.store.keyVersionCounts(tenant: "t1") == [1: World.users - 1, 2: 1])
            // The destination vault serves the destination store, and neither carries a mark any more.
            #expect(try destination.vault.storeBinding()?.storeID == destination.store.identity.id)
            #expect(try destination.vault.storeBinding()?.heldTokens == true)
            #expect(try destination.vault.stateMark() == nil && destination.store.stateMark() == nil)

            // The source: nothing opens it, and a session opened before the move cannot take a lease.
            let moved = StateMarkError.moved(location: world.fixture.vaultPath, destination: copier.destinationName)
            #expect(throws: moved) { try world.sourceVault() }
            #expect(
                throws: StateMarkError.moved(location: world.fixture.storePath, destination: copier.destinationName)
            ) {
                try SQLiteTokenStore(path: world.fixture.storePath)
            }
            #expect(throws: StateMarkError.self) {
                try copier.sourceStore.acquireLease(
                    TokenKey(tenant: "t2", user: "u0", provider: "entra"), owner: "web", until: Date() + 60)
            }
            #expect(moved.exitStatus == .environment && moved.description.contains(world.destinationVaultPath))
        }
    }

    @Test func softDeletedSecretsPoliciesAndEveryVersionArriveWithTheirNumbersAndDates() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let source = try world.sourceVault()
            let deleted = try source.deletedSecrets()
            let versions = try source.versions(of: "t1")
            let policies = try source.policies()
            let keys = try ["t1", "t2", "gone"].map { try source.exportSecret($0) }
            _ = try world.copier().run()

            let destination = try world.destinationVault()
            #expect(try destination.deletedSecrets() == deleted && deleted.map(\.name) == ["gone"])
            #expect(try destination.versions(of: "t1") == versions)
            #expect(versions.map(\.number) == [1, 2] && versions.map(\.enabled) == [false, true])
            #expect(try destination.policies() == policies && policies.count == 3)
            #expect(try ["t1", "t2", "gone"].map { try destination.exportSecret($0) } == keys)
            #expect(throws: VaultError.secretDeleted("gone")) { try destination.dataKey(secret: "gone", version: 1) }
        }
    }

    @Test func aDestinationHoldingForeignTokensOrSecretsIsRefusedAndTheSourceIsLeftAlone() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            // The destination vault and store already serve someone: a token stored there.
            let foreign = TokenCustodian(
                vault: try world.destinationVault(),
                store: try StateBinding.openStore(
                    at: world.destinationStorePath, vault: try world.destinationVault(), source: .createForNewVault))
            let key = TokenKey(tenant: "other", user: "u", provider: "entra")
            try foreign.put(key, token: SecretText("rt-foreign-value"), issuedAt: Date(), expiresAt: nil)

            let error = #expect(throws: StateCopyError.self) { try world.copier().run() }
            guard case .destinationInUse = error else {
                Issue.record("expected destinationInUse, got \(String(describing: error))")
                return
            }
            #expect(error?.exitStatus == .environment)
            #expect(try world.sourceVault().stateMark() == nil)
            #expect(try SQLiteTokenStore(path: world.fixture.storePath).stateMark() == nil)
            #expect(try foreign.open(key).revealed == "rt-foreign-value")
            #expect(try foreign.store.stateMark() == nil && foreign.vault.stateMark() == nil)

            // A vault holding secrets (its store empty) is refused as well.
            _ = try foreign.store.delete(key)
            #expect(throws: StateCopyError.self) { try world.copier().run() }
        }
    }

    @Test func aCopyWaitsForLiveLeasesAndGivesUpLeavingTheSourceFrozenUntilItIsRunAgain() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            let key = TokenKey(tenant: "t2", user: "u0", provider: "entra")
            let web = try SQLiteTokenStore(path: world.fixture.storePath)
            #expect(try web.acquireLease(key, owner: "web-1", until: Date() + 60))

            let copier = try world.copier()
            copier.leaseWait = 0.5
            #expect(throws: StateCopyError.leasesHeld(location: world.fixture.storePath, rows: 1, waitedSeconds: 1)) {
                try copier.run()
            }
            // Frozen: no new lease, no commit after a lost lease; the refresh under way still commits.
            #expect(try web.stateMark()?.kind == .frozen)
            #expect(throws: StateMarkError.self) {
                try web.acquireLease(
                    TokenKey(tenant: "t2", user: "u2", provider: "entra"), owner: "web-2", until: Date() + 60)
            }
            let row = try #require(try web.get(key))
            #expect(throws: StateMarkError.self) {
                try web.commitRefreshed(
                    key, replacing: row.sealedToken!, owner: "web-2", secretName: "t2", keyVersion: 1,
                    sealedToken: row.sealedToken!, refreshedAt: Date(), expiresAt: nil)
            }
            #expect(
                try web.commitRefreshed(
                    key, owner: "web-1", secretName: "t2", keyVersion: 1, sealedToken: row.sealedToken!,
                    refreshedAt: Date(), expiresAt: nil))

            let summary = try world.copier().run()
            #expect(summary.resumed && summary.rows == 3 * World.users)
        }
    }

    @Test func aRunAfterAnInterruptedCopyResumesIntoItsOwnPartialDestinationButNotAnothers() throws {
        try withTemporaryDirectory { folder in
            let world = try World(folder)
            // What a copy killed mid-way leaves: both sides marked, one secret and five rows copied.
            let copier = try world.copier()
            let copyID = copier.sourceStore.identity.id
            let receiving = StateMark(kind: .receiving, peer: copier.sourceName, copyID: copyID)
            try copier.destinationStore.setStateMark(receiving)
            try copier.destinationVault.setStateMark(receiving)
            try copier.sourceStore.setStateMark(StateMark(kind: .frozen, peer: copier.destinationName, copyID: copyID))
            try copier.destinationVault.importSecret(copier.sourceVault.exportSecret("t1"))
            try copier.destinationStore.insertCopiedRows(Array(World.rows(copier.sourceStore).prefix(5)))

            // Another copy (another source) may not take that partial destination over.
            let other = try JobFixture(folder: folder + "/other")
            let otherVault = try FileVault.open(at: other.vaultPath, masterKey: other.masterKey, principal: "pipeline")
            let intruder = StateCopier(
                sourceVault: otherVault,
                sourceStore: try StateBinding.openStore(at: other.storePath, vault: otherVault),
                destinationVault: copier.destinationVault, destinationStore: copier.destinationStore)
            #expect(throws: StateCopyError.self) { try intruder.run() }
            #expect(try otherVault.stateMark() == nil)

            let summary = try world.copier().run()
            #expect(summary.resumed && summary.rows == 3 * World.users && summary.secrets == 3)
            #expect(try world.destinationVault().stateMark() == nil)
            #expect(try SQLiteTokenStore(path: world.destinationStorePath).count() == 3 * World.users)
        }
    }

    @Test func aJobOnAStateLeftFrozenByAStoppedCopyIsRefusedButItsDryRunReads() async throws {
        try await withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 1)
            let spec = try fixture.spec(
                JobFixture.header + """
                    stages:
                      - name: rotate-keys
                        kind: rotate
                        tenants: all
                        max_key_age: 30d
                    """)
            try SQLiteTokenStore(path: fixture.storePath).setStateMark(
                StateMark(kind: .frozen, peer: "vault /new/vault with store /new/tokens.db", copyID: "c1"))
            let error = await #expect(throws: StateMarkError.self) { try await fixture.run(spec) }
            #expect(error?.description.contains("being copied to vault /new/vault") == true)
            #expect(try fixture.versions("t1") == [1], "nothing rotated")
            _ = try await fixture.run(spec, dryRun: true)
        }
    }

    @Test func aReadOnlySessionReadsAStoreFromBeforeTheMarkAsUnmarkedWithoutWritingIt() throws {
        try withTemporaryDirectory { folder in
            let fixture = try JobFixture(folder: folder)
            try fixture.seed(tenants: ["t1"], usersPerTenant: 2)
            // As the build before `state copy` left it: schema 5, no state_mark table.
            try SQLiteTokenStore(path: fixture.storePath).connection.execute(
                "DROP TABLE state_mark; PRAGMA user_version = 5")
            let store = try SQLiteTokenStore(path: fixture.storePath, readOnly: true)
            #expect(try store.stateMark() == nil)
            #expect(try StateCopyTests.World.rows(store).count == 2)
            // Nothing was migrated: the file still says schema 5 and has no state_mark table.
            #expect(try store.connection.scalar("PRAGMA user_version") == 5)
            #expect(
                try store.connection.scalar("SELECT count(*) FROM main.sqlite_master WHERE name = 'state_mark'") == 0)
        }
    }
}

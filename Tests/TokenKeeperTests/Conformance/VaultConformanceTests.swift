import Crypto
import Foundation
import Support
import Testing
import Vault

/// The ``KeyVault`` contract, one test per clause, run against every backend in ``VaultBackend/all``.
///
/// Written against `any KeyVault` only: a backend passes by keeping the protocol's promises, whatever it
/// is made of. Backend-specific behaviour (file modes, file integrity, rekey, the audit log's form) is
/// tested beside each backend (Tests/TokenKeeperTests/Vault).
@Suite struct VaultConformanceTests {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    static let day: TimeInterval = 86_400

    /// A new vault of `backend` made by `admin` (every permission), with its folder, master key and clock.
    private struct Fixture {
        let backend: VaultBackend
        let folder: String
        let masterKey: MasterKey
        let clock: ManualClock
        let admin: any KeyVault

        /// The same vault opened again as `principal`, with the right master key unless told otherwise.
        func open(as principal: String = "admin", masterKey: MasterKey? = nil, readOnly: Bool = false) throws
            -> any KeyVault
        {
            try backend.reopen(
                folder: folder, masterKey: masterKey ?? self.masterKey, principal: principal, readOnly: readOnly,
                clock: clock.function)
        }
    }

    private func withVault<T>(_ backend: VaultBackend, _ body: (Fixture) throws -> T) throws -> T {
        try withTemporaryDirectory { folder in
            let masterKey = try MasterKey.generate()
            let clock = ManualClock(Self.start)
            let admin = try backend.make(
                folder: folder, masterKey: masterKey, principal: "admin", clock: clock.function)
            return try body(Fixture(backend: backend, folder: folder, masterKey: masterKey, clock: clock, admin: admin))
        }
    }

    /// Expects `body` to throw exactly `expected`.
    private func expect(
        _ expected: VaultError, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) {
        #expect(throws: expected, sourceLocation: sourceLocation) { try body() }
    }

    // MARK: - Secrets and versions

    @Test(arguments: VaultBackend.all)
    func aNewSecretHasVersionOneEnabledWithAKeyOfItsOwn(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            let first = try vault.admin.createSecret("t1")
            #expect(first.number == 1 && first.enabled && first.createdAt == Self.start)
            #expect(try vault.admin.versions(of: "t1") == [first])
            let summary = try #require(try vault.admin.secrets().first)
            #expect(try vault.admin.secrets().count == 1)
            #expect(
                summary.name == "t1" && summary.createdAt == Self.start && summary.latestVersion == 1
                    && summary.versionCount == 1)
            let key = try vault.admin.dataKey(secret: "t1", version: 1)
            let latest = try vault.admin.latestDataKey(secret: "t1")
            #expect(latest.version == 1 && latest.key == key)
            _ = try vault.admin.createSecret("t2")
            #expect(try vault.admin.dataKey(secret: "t2", version: 1) != key)
            expect(.secretExists("t1")) { _ = try vault.admin.createSecret("t1") }
            expect(.invalidSecretName("not_a_name")) { _ = try vault.admin.createSecret("not_a_name") }
            expect(.secretNotFound("t3")) { _ = try vault.admin.addVersion(to: "t3") }
            expect(.versionNotFound(secret: "t1", version: 2)) { _ = try vault.admin.dataKey(secret: "t1", version: 2) }
        }
    }

    @Test(arguments: VaultBackend.all)
    func versionsAreOrderedAndAVersionsKeyNeverChanges(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            vault.clock.advance(by: 60)
            let second = try vault.admin.addVersion(to: "t1")
            vault.clock.advance(by: 60)
            let third = try vault.admin.addVersion(to: "t1")
            #expect(second.number == 2 && third.number == 3 && second.enabled && third.enabled)
            let versions = try vault.admin.versions(of: "t1")
            #expect(versions.map(\.number) == [1, 2, 3])
            #expect(
                versions.map(\.createdAt) == [
                    Self.start, Self.start.addingTimeInterval(60), Self.start.addingTimeInterval(120),
                ])
            let keys = try (1...3).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            #expect(keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2])
            #expect(try vault.admin.latestDataKey(secret: "t1").key == keys[2])
            #expect(
                try vault.admin.secrets().first?.latestVersion == 3 && vault.admin.secrets().first?.versionCount == 3)
            // Another session, and later versions, leave every key as it was.
            let reopened = try vault.open()
            #expect(try (1...3).map { try reopened.dataKey(secret: "t1", version: $0) } == keys)
            #expect(try reopened.versions(of: "t1") == versions)
            _ = try reopened.addVersion(to: "t1")
            #expect(try (1...3).map { try vault.admin.dataKey(secret: "t1", version: $0) } == keys)
            #expect(try vault.admin.latestDataKey(secret: "t1").version == 4)
        }
    }

    @Test(arguments: VaultBackend.all)
    func addingVersionsToManySecretsGivesEachItsNextVersionAndFailsOnlyTheSecretsThatCannotTakeOne(
        _ backend: VaultBackend
    ) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            _ = try vault.admin.addVersion(to: "t1")
            _ = try vault.admin.createSecret("t2")
            _ = try vault.admin.createSecret("gone")
            try vault.admin.deleteSecret("gone")
            let keys = try (1...2).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            vault.clock.advance(by: 60)
            let results = try vault.admin.addVersions(to: ["t1", "missing", "t2", "gone", "not_a_name"])
            #expect(results.count == 5)
            let added = try [results[0].get(), results[2].get()]
            #expect(added.map(\.number) == [3, 2])
            #expect(added.allSatisfy { $0.enabled && $0.createdAt == Self.start + 60 })
            #expect(throws: VaultError.secretNotFound("missing")) { try results[1].get() }
            #expect(throws: VaultError.secretDeleted("gone")) { try results[3].get() }
            #expect(throws: VaultError.invalidSecretName("not_a_name")) { try results[4].get() }
            let reopened = try vault.open()
            #expect(try reopened.versions(of: "t1").map(\.number) == [1, 2, 3])
            #expect(try reopened.versions(of: "t2").map(\.number) == [1, 2])
            #expect(try reopened.latestDataKey(secret: "t2").version == 2)
            #expect(try (1...2).map { try reopened.dataKey(secret: "t1", version: $0) } == keys)
            #expect(try reopened.dataKey(secret: "t1", version: 3) != keys[1])
            #expect(try reopened.secretState("gone") == .softDeleted)
            #expect(try reopened.addVersions(to: []).isEmpty)
        }
    }

    @Test(arguments: VaultBackend.all)
    func aDisabledVersionStillOpensAndTheNewestEnabledVersionSeals(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            _ = try vault.admin.addVersion(to: "t1")
            _ = try vault.admin.addVersion(to: "t1")
            let keys = try (1...3).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            try vault.admin.disableVersion(secret: "t1", version: 1)
            try vault.admin.disableVersion(secret: "t1", version: 2)
            #expect(try vault.admin.versions(of: "t1").map(\.enabled) == [false, false, true])
            #expect(try vault.admin.dataKey(secret: "t1", version: 1) == keys[0])
            #expect(try vault.open().dataKey(secret: "t1", version: 2) == keys[1])
            let latest = try vault.admin.latestDataKey(secret: "t1")
            #expect(latest.version == 3 && latest.key == keys[2])
            expect(.versionNotFound(secret: "t1", version: 9)) {
                try vault.admin.disableVersion(secret: "t1", version: 9)
            }
        }
    }

    @Test(arguments: VaultBackend.all)
    func theLatestVersionCannotBeDisabled(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            expect(.latestVersion(secret: "t1", version: 1)) {
                try vault.admin.disableVersion(secret: "t1", version: 1)
            }
            _ = try vault.admin.addVersion(to: "t1")
            expect(.latestVersion(secret: "t1", version: 2)) {
                try vault.admin.disableVersion(secret: "t1", version: 2)
            }
            #expect(try vault.admin.versions(of: "t1").map(\.enabled) == [true, true])
            #expect(try vault.admin.latestDataKey(secret: "t1").version == 2)
        }
    }

    @Test(arguments: VaultBackend.all)
    func purgingADisabledOlderVersionRemovesItForGood(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            _ = try vault.admin.addVersion(to: "t1")
            _ = try vault.admin.addVersion(to: "t1")
            let kept = try (2...3).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            try vault.admin.disableVersion(secret: "t1", version: 1)
            try vault.admin.purgeVersion(secret: "t1", version: 1, servingStore: VaultBackend.servedStore)
            #expect(try vault.admin.versions(of: "t1").map(\.number) == [2, 3])
            expect(.versionNotFound(secret: "t1", version: 1)) { _ = try vault.admin.dataKey(secret: "t1", version: 1) }
            expect(.versionNotFound(secret: "t1", version: 1)) {
                _ = try vault.open().dataKey(secret: "t1", version: 1)
            }
            expect(.versionNotFound(secret: "t1", version: 1)) {
                try vault.admin.purgeVersion(secret: "t1", version: 1, servingStore: VaultBackend.servedStore)
            }
            #expect(try (2...3).map { try vault.admin.dataKey(secret: "t1", version: $0) } == kept)
            // Neither an enabled version nor the latest is purged.
            #expect(throws: VaultError.self) {
                try vault.admin.purgeVersion(secret: "t1", version: 2, servingStore: VaultBackend.servedStore)
            }
            #expect(throws: VaultError.self) {
                try vault.admin.purgeVersion(secret: "t1", version: 3, servingStore: VaultBackend.servedStore)
            }
            #expect(try vault.admin.versions(of: "t1").map(\.number) == [2, 3])
            // A purged number is never given again.
            #expect(try vault.admin.addVersion(to: "t1").number == 4)
        }
    }

    // MARK: - Soft delete

    @Test(arguments: VaultBackend.all)
    func aDeletedSecretOpensNothingUntilRecoveredWithItsKeys(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            _ = try vault.admin.addVersion(to: "t1")
            _ = try vault.admin.createSecret("t2")
            let keys = try (1...2).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            vault.clock.advance(by: 3_600)
            try vault.admin.deleteSecret("t1")
            #expect(try vault.admin.secretState("t1") == .softDeleted)
            #expect(try vault.admin.secrets().map(\.name) == ["t2"])
            expect(.secretDeleted("t1")) { _ = try vault.admin.dataKey(secret: "t1", version: 1) }
            expect(.secretDeleted("t1")) { _ = try vault.admin.latestDataKey(secret: "t1") }
            expect(.secretDeleted("t1")) { _ = try vault.admin.versions(of: "t1") }
            expect(.secretDeleted("t1")) { _ = try vault.admin.addVersion(to: "t1") }
            expect(.secretDeleted("t1")) { try vault.admin.deleteSecret("t1") }
            expect(.secretDeleted("t1")) { _ = try vault.admin.createSecret("t1") }
            let deleted = try #require(try vault.admin.deletedSecrets().first)
            #expect(try vault.admin.deletedSecrets().count == 1)
            #expect(deleted.name == "t1" && deleted.deletedAt == Self.start.addingTimeInterval(3_600))
            // Key Vault's retention: 7 to 90 days.
            let retention = deleted.scheduledPurgeAt.timeIntervalSince(deleted.deletedAt)
            #expect(retention >= 7 * Self.day && retention <= 90 * Self.day)
            try vault.admin.recoverSecret("t1")
            #expect(try vault.admin.secretState("t1") == .active)
            #expect(try vault.admin.deletedSecrets().isEmpty)
            #expect(try (1...2).map { try vault.admin.dataKey(secret: "t1", version: $0) } == keys)
            expect(.secretNotDeleted("t1")) { try vault.admin.recoverSecret("t1") }
            expect(.secretNotFound("t9")) { try vault.admin.deleteSecret("t9") }
        }
    }

    @Test(arguments: VaultBackend.all)
    func purgingADeletedSecretRemovesItForGood(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            let key = try vault.admin.dataKey(secret: "t1", version: 1)
            expect(.secretNotDeleted("t1")) { try vault.admin.purgeSecret("t1") }
            #expect(try vault.admin.secretState("t1") == .active)
            try vault.admin.deleteSecret("t1")
            try vault.admin.purgeSecret("t1")
            #expect(try vault.admin.secretState("t1") == .absent)
            #expect(try vault.admin.deletedSecrets().isEmpty && vault.admin.secrets().isEmpty)
            expect(.secretNotFound("t1")) { try vault.admin.recoverSecret("t1") }
            expect(.secretNotFound("t1")) { try vault.admin.purgeSecret("t1") }
            expect(.secretNotFound("t1")) { _ = try vault.admin.dataKey(secret: "t1", version: 1) }
            // The name is free again, for a new secret with a new key.
            #expect(try vault.admin.createSecret("t1").number == 1)
            #expect(try vault.admin.dataKey(secret: "t1", version: 1) != key)
        }
    }

    @Test(arguments: VaultBackend.all)
    func secretStateNamesEachStateASecretCanBeIn(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            #expect(try vault.admin.secretState("t1") == .absent)
            _ = try vault.admin.createSecret("t1")
            #expect(try vault.admin.secretState("t1") == .active)
            try vault.admin.deleteSecret("t1")
            #expect(try vault.admin.secretState("t1") == .softDeleted)
            try vault.admin.recoverSecret("t1")
            #expect(try vault.admin.secretState("t1") == .active)
            try vault.admin.deleteSecret("t1")
            try vault.admin.purgeSecret("t1")
            #expect(try vault.admin.secretState("t1") == .absent)
        }
    }

    @Test(arguments: VaultBackend.all)
    func onlySecretsPastTheirPurgeDateArePurgedAsOverdue(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            for name in ["old", "recent", "live"] { _ = try vault.admin.createSecret(name) }
            try vault.admin.deleteSecret("old")
            vault.clock.advance(by: 3 * Self.day)
            try vault.admin.deleteSecret("recent")
            #expect(try vault.admin.purgeOverdue() == [])
            let old = try #require(try vault.admin.deletedSecrets().first { $0.name == "old" })
            vault.clock.set(old.scheduledPurgeAt.addingTimeInterval(1))
            #expect(try vault.admin.purgeOverdue() == ["old"])
            #expect(try vault.admin.secretState("old") == .absent)
            #expect(try vault.admin.secretState("recent") == .softDeleted)
            #expect(try vault.admin.secretState("live") == .active)
            #expect(try vault.admin.purgeOverdue() == [])
        }
    }

    // MARK: - Policies

    @Test(arguments: VaultBackend.all)
    func policiesAreSetReplacedAndRemovedAndGovernWhatAPrincipalMayDo(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            func policies() throws -> [String: Set<VaultPermission>] {
                Dictionary(uniqueKeysWithValues: try vault.admin.policies().map { ($0.principal, $0.permissions) })
            }
            #expect(try policies() == ["admin": Set(VaultPermission.allCases)])
            _ = try vault.admin.createSecret("t1")
            try vault.admin.setPolicy(for: "app", permissions: [.get, .list])
            #expect(try policies() == ["admin": Set(VaultPermission.allCases), "app": [.get, .list]])
            let app = try vault.open(as: "app")
            #expect(app.principal == "app")
            #expect(try app.secrets().map(\.name) == ["t1"])
            try vault.admin.setPolicy(for: "app", permissions: [.set])
            #expect(try policies()["app"] == [.set])
            #expect(throws: VaultError.self) { try app.secrets() }
            _ = try app.addVersion(to: "t1")
            try vault.admin.removePolicy(for: "app")
            #expect(try policies() == ["admin": Set(VaultPermission.allCases)])
            #expect(throws: VaultError.self) { try app.addVersion(to: "t1") }
            // A principal without a policy may do nothing.
            let stranger = try vault.open(as: "stranger")
            #expect(stranger.principal == "stranger")
            for permission in VaultPermission.allCases {
                #expect(throws: VaultError.self) {
                    try stranger.requirePermission(permission, operation: "read the audit log")
                }
            }
        }
    }

    @Test(arguments: VaultBackend.all, VaultCall.all)
    func eachCallIsRefusedWithoutEachPermissionItNamesAndAllowedWithThemAlone(
        _ backend: VaultBackend, _ call: VaultCall
    ) throws {
        try withVault(backend) { vault in
            try VaultCall.prepare(vault.admin)
            // Read through a read-only session: it writes nothing, not even audit entries, so comparing is cheap.
            let before = try VaultState(of: vault.open(readOnly: true))
            for missing in call.permissions.sorted() {
                try vault.admin.setPolicy(for: "app", permissions: Set(VaultPermission.allCases).subtracting([missing]))
                let error = #expect(throws: VaultError.self, "\(call.name) without \(missing.rawValue)") {
                    try call.run(vault.open(as: "app"))
                }
                guard case .permissionDenied(let principal, let permission, _, _) = error else {
                    Issue.record("\(call.name) without \(missing.rawValue) gave \(String(describing: error))")
                    continue
                }
                #expect(principal == "app" && permission == missing, "\(call.name)")
                #expect(error?.description.contains(missing.rawValue) == true)
            }
            try vault.admin.setPolicy(for: "app", permissions: [])
            #expect(throws: VaultError.self, "\(call.name) with no permission") { try call.run(vault.open(as: "app")) }
            var after = try VaultState(of: vault.open(readOnly: true))
            after.policies["app"] = nil
            #expect(after == before, "a refused \(call.name) changed the vault")
            try vault.admin.setPolicy(for: "app", permissions: call.permissions)
            try call.run(vault.open(as: "app"))
        }
    }

    // MARK: - Master key, read-only, no leaks

    @Test(arguments: VaultBackend.all)
    func aWrongMasterKeyIsNamedAsSuchAndOpensNothing(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            let wrongKey = try MasterKey.generate()
            let error = #expect(throws: VaultError.self) {
                _ = try vault.open(masterKey: wrongKey).dataKey(secret: "t1", version: 1)
            }
            guard case .wrongMasterKey = error else { Issue.record("gave \(String(describing: error))"); return }
            #expect(error?.description.contains("wrong master key") == true)
            #expect(throws: VaultError.self) { _ = try vault.open(masterKey: wrongKey, readOnly: true).secrets() }
            // The right key still opens everything.
            #expect(try vault.open().secrets().map(\.name) == ["t1"])
        }
    }

    /// Every write of the protocol, each with arguments that would change the vault ``VaultCall/prepare(_:)`` made.
    private static let writes: [(String, @Sendable (any KeyVault) throws -> Void)] = [
        ("createSecret", { _ = try $0.createSecret("t2") }),
        ("addVersion", { _ = try $0.addVersion(to: "t1") }),
        ("addVersions", { vault in for result in try vault.addVersions(to: ["t1"]) { _ = try result.get() } }),
        ("disableVersion", { try $0.disableVersion(secret: "t1", version: 2) }),
        ("purgeVersion", { try $0.purgeVersion(secret: "t1", version: 1, servingStore: VaultBackend.servedStore) }),
        ("deleteSecret", { try $0.deleteSecret("t1") }),
        ("recoverSecret", { try $0.recoverSecret("gone") }),
        ("purgeSecret", { try $0.purgeSecret("gone") }),
        ("setPolicy", { try $0.setPolicy(for: "x", permissions: [.get]) }),
        ("removePolicy", { try $0.removePolicy(for: "x") }),
        ("purgeOverdue", { _ = try $0.purgeOverdue() }),
    ]

    @Test(arguments: VaultBackend.all)
    func aReadOnlyVaultRefusesEveryWriteAndChangesNothing(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            try VaultCall.prepare(vault.admin)
            // Past gone's purge date, so purgeOverdue would purge it.
            vault.clock.advance(by: 91 * Self.day)
            let bytesBefore = try backend.bytesAtRest(folder: vault.folder)
            let readOnly = try vault.open(readOnly: true)
            let before = try VaultState(of: readOnly)
            #expect(before.keys["t1"]?.count == 3 && before.deleted.map(\.name) == ["gone"])
            for (name, write) in Self.writes {
                let error = #expect(throws: VaultError.self, "\(name) on a read-only vault") { try write(readOnly) }
                if let error, case .readOnly = error {
                } else {
                    Issue.record("\(name) gave \(String(describing: error))")
                }
            }
            _ = try readOnly.latestDataKey(secret: "t1")
            _ = try readOnly.secretState("gone")
            try readOnly.requirePermission(.list, operation: "list the store's rows")
            #expect(try VaultState(of: readOnly) == before)
            if let bytesBefore {
                #expect(try backend.bytesAtRest(folder: vault.folder) == bytesBefore)
            }
            #expect(try VaultState(of: vault.admin) == before)
        }
    }

    @Test(arguments: VaultBackend.all)
    func noErrorShowsAMasterKeyOrADataKey(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            try VaultCall.prepare(vault.admin)
            let wrongKey = try MasterKey.generate()
            let dataKeys = try (1...3).map { try vault.admin.dataKey(secret: "t1", version: $0) }
            try vault.admin.setPolicy(for: "app", permissions: [.list])
            var errors: [any Error] = []
            func collect(_ body: () throws -> Void) {
                do { try body() } catch { errors.append(error) }
            }
            collect { _ = try vault.open(masterKey: wrongKey).secrets() }
            collect { _ = try vault.open(as: "app").dataKey(secret: "t1", version: 2) }
            collect { _ = try vault.open(as: "app").latestDataKey(secret: "t1") }
            collect { _ = try vault.admin.dataKey(secret: "t1", version: 9) }
            collect { _ = try vault.admin.dataKey(secret: "gone", version: 1) }
            collect { try vault.admin.disableVersion(secret: "t1", version: 3) }
            collect { try vault.admin.purgeVersion(secret: "t1", version: 2, servingStore: VaultBackend.servedStore) }
            collect { _ = try vault.admin.createSecret("t1") }
            collect { _ = try vault.open(readOnly: true).addVersion(to: "t1") }
            #expect(errors.count == 9)
            var secretForms: [String] = []
            for key in [vault.masterKey, wrongKey] { secretForms.append(key.base64) }
            for key in dataKeys {
                key.withUnsafeBytes { bytes in
                    secretForms.append(Data(bytes).base64EncodedString())
                    secretForms.append(bytes.map { String(format: "%02x", $0) }.joined())
                    secretForms.append(bytes.map { String(format: "%02X", $0) }.joined())
                }
            }
            for error in errors {
                for text in [String(describing: error), String(reflecting: error), error.localizedDescription] {
                    for form in secretForms { #expect(!text.contains(form), "\(text)") }
                }
            }
        }
    }

    // MARK: - Shared by threads

    @Test(arguments: VaultBackend.all)
    func oneVaultServesSeveralThreadsAndNumbersConcurrentVersionsOnce(_ backend: VaultBackend) throws {
        try withVault(backend) { vault in
            _ = try vault.admin.createSecret("t1")
            let key = try vault.admin.dataKey(secret: "t1", version: 1)
            let admin = vault.admin
            let results = Locked<[(number: Int, sameKey: Bool)]>([])
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { _ in
                for _ in 0..<2 {
                    do {
                        let number = try admin.addVersion(to: "t1").number
                        let sameKey = try admin.dataKey(secret: "t1", version: 1) == key
                        results.update { $0.append((number, sameKey)) }
                    } catch {
                        failures.update { $0.append(String(describing: error)) }
                    }
                }
            }
            #expect(failures.value.isEmpty)
            #expect(results.value.allSatisfy { $0.sameKey })
            #expect(results.value.map(\.number).sorted() == Array(2...17))
            #expect(try vault.admin.versions(of: "t1").map(\.number) == Array(1...17))
        }
    }
}

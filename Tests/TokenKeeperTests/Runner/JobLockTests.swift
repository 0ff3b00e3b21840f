import Foundation
import Testing

@testable import Report
@testable import Runner
@testable import Support

@Suite struct JobLockTests {
    @Test func secondHolderWaitsThenFailsNamingTheHolder() throws {
        try withTemporaryDirectory { folder in
            let store = folder + "/tokens.db"
            let first = try JobLock.acquire(protecting: [store], timeout: 0, owner: "nightly run-1")
            defer { first.release() }
            let started = Date()
            let error = #expect(throws: JobLockError.self) {
                try JobLock.acquire(protecting: [store], timeout: 0.3, owner: "second")
            }
            #expect(Date().timeIntervalSince(started) >= 0.3)
            #expect(error?.description.contains("nightly run-1") == true)
            #expect(error?.exitStatus == .environment)
        }
    }

    @Test func lockIsFreeAgainAfterRelease() throws {
        try withTemporaryDirectory { folder in
            let paths = [folder + "/vault", folder + "/tokens.db"]
            try JobLock.acquire(protecting: paths, timeout: 0, owner: "a").release()
            let again = try JobLock.acquire(protecting: paths, timeout: 0, owner: "b")
            #expect(again.paths == [folder + "/tokens.db.lock", folder + "/vault.lock"])
        }
    }

    @Test func lockFilesArePrivateAndBesideTheProtectedPaths() throws {
        try withTemporaryDirectory { folder in
            let lock = try JobLock.acquire(protecting: [folder + "/vault/"], timeout: 0, owner: "a")
            defer { lock.release() }
            let attributes = try FileManager.default.attributesOfItem(atPath: folder + "/vault.lock")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }
}

import Foundation
import Testing

@testable import Support

/// Files that hold a secret (a master key, a `file:` client secret or connection string) are judged on
/// the file actually read: its mode and kind come from the open descriptor, links are followed to the
/// file they reach, and anything but a regular file is refused without waiting.
@Suite struct SecretFileTests {
    @Test func aPipeInPlaceOfASecretFileIsRefusedWithoutWaitingForAWriter() throws {
        try withTemporaryDirectory { folder in
            let pipe = folder + "/master.key"
            #expect(mkfifo(pipe, 0o600) == 0)
            let finished = DispatchSemaphore(value: 0)
            let outcome = Locked<Result<[UInt8], any Error>?>(nil)
            Thread.detachNewThread {
                let result = Result { try PrivateFiles.readPrivate(pipe) }
                outcome.update { $0 = result }
                finished.signal()
            }
            let waited = finished.wait(timeout: .now() + 5) == .success
            if !waited {
                // Free the reader (a writer that closes at once gives it end of file) so the test ends.
                let writer = open(pipe, O_WRONLY | O_NONBLOCK)
                if writer >= 0 { close(writer) }
                _ = finished.wait(timeout: .now() + 5)
            }
            #expect(waited, "reading a pipe named as a secret file must not wait for a writer")
            guard case .failure(let error as FileSystemError)? = outcome.value else {
                Issue.record("a pipe must be refused as a secret file, got \(String(describing: outcome.value))")
                return
            }
            #expect(error.path == pipe)
            #expect(error.remedy.contains("regular file"))
        }
    }

    @Test func aLinkToAGroupReadableFileIsRefusedAsThatFile() throws {
        try withTemporaryDirectory { folder in
            let target = folder + "/shared.key"
            #expect(FileManager.default.createFile(atPath: target, contents: Data(repeating: 7, count: 32)))
            #expect(chmod(target, 0o640) == 0)
            let link = folder + "/master.key"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            let error = #expect(throws: InsecurePermissionsError.self) { try PrivateFiles.readPrivate(link) }
            #expect(error?.foundMode == 0o640)
        }
    }

    @Test func aLinkToAPrivateFileIsReadAsMountedSecretsAre() throws {
        try withTemporaryDirectory { folder in
            let target = folder + "/..data-master.key"
            #expect(FileManager.default.createFile(atPath: target, contents: Data(repeating: 7, count: 32)))
            #expect(chmod(target, 0o600) == 0)
            let link = folder + "/master.key"
            try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
            #expect(try PrivateFiles.readPrivate(link) == [UInt8](repeating: 7, count: 32))
        }
    }
}

import Foundation
import Testing

@testable import Custody
@testable import Store

/// Token use writes to the store while a rotation's writer commits transaction after transaction: the
/// rotation leaves the write lock free for a moment after each (`TokenRewrapper.gapForOtherWriters`) and a
/// waiting connection tries again every millisecond, so the waiting write gets its turn within a few of
/// the rotation's transactions instead of after all of them.
@Suite struct WriterTurnTests {
    @Test func aWriterWaitingBehindBackToBackTransactionsGetsInWithinAFewOfThem() throws {
        try withTemporaryDirectory { folder in
            let path = folder + "/tokens.db"
            let rotation = try SQLiteTokenStore.create(at: path)
            try rotation.connection.execute("CREATE TABLE filler (n INTEGER NOT NULL)")
            let limit = 400
            let waiting = DispatchSemaphore(value: 0)
            let done = DispatchSemaphore(value: 0)
            let outcome = Outcome()
            var admittedAt: Int?
            for transaction in 0..<limit {
                // One transaction of the walk: a write, the lock held about a millisecond.
                try rotation.connection.writeTransaction {
                    try rotation.connection.execute("INSERT INTO filler (n) VALUES (\(transaction))")
                    let until = Date().addingTimeInterval(0.001)
                    while Date() < until {}
                }
                if transaction == 5 {
                    Thread.detachNewThread {
                        waiting.signal()
                        do {
                            // Token use: a connection of its own, one short write.
                            let tokenUse = try SQLiteTokenStore(path: path)
                            try tokenUse.connection.writeTransaction {
                                try tokenUse.connection.execute("INSERT INTO filler (n) VALUES (-1)")
                            }
                        } catch {
                            outcome.set(error)
                        }
                        done.signal()
                    }
                    waiting.wait()
                }
                if transaction > 5, try rotation.connection.scalar("SELECT count(*) FROM filler WHERE n = -1") == 1 {
                    admittedAt = transaction
                    break
                }
                usleep(TokenRewrapper.gapForOtherWriters)
            }
            #expect(done.wait(timeout: .now() + 10) == .success)
            #expect(outcome.error == nil)
            let admitted = try #require(admittedAt, "the waiting write got in only after all \(limit) transactions")
            #expect(admitted < 5 + 80, "the waiting write got in after \(admitted - 5) of the walk's transactions")
        }
    }

    /// What the token use thread met, read after it signalled.
    private final class Outcome: @unchecked Sendable {
        private let lock = NSLock()
        private var stored: (any Error)?
        var error: (any Error)? { lock.withLock { stored } }
        func set(_ error: any Error) { lock.withLock { stored = error } }
    }
}

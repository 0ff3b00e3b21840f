import Testing

@testable import Custody
@testable import Store

/// How many rows the rotation puts in one write transaction (issue 14 point 3): as many as keep it near
/// its target duration, never more than the batch size, so token use waits little for the store.
@Suite struct RotationTransactionSizeTests {
    @Test func aTransactionThatRanLongMakesTheNextOneSmallerAtOnce() {
        var size = TokenRewrapper.ChunkSize(rows: 2_000, limit: 2_000)
        // 2,000 rows took 60 ms: the next transaction takes what fits in the target (15 ms).
        size.adapt(rows: 2_000, seconds: 0.060)
        #expect(size.rows == 500)
    }

    @Test func quickTransactionsGrowByHalfAtMostAndNeverBeyondTheBatchSize() {
        var size = TokenRewrapper.ChunkSize(rows: 100, limit: 2_000)
        size.adapt(rows: 100, seconds: 0.001)
        #expect(size.rows == 150)
        for _ in 0..<20 { size.adapt(rows: size.rows, seconds: 0.001) }
        #expect(size.rows == 2_000)
    }

    @Test func aStalledTransactionStillLeavesSomeRowsPerTransaction() {
        var size = TokenRewrapper.ChunkSize(rows: 2_000, limit: 2_000)
        size.adapt(rows: 2_000, seconds: 30)
        #expect(size.rows == 8)
    }
}

/// On a store whose writers lock only the rows they change (PostgreSQL), nobody waits for a rotation's
/// transaction: each takes a whole batch, however long it ran, so the commit's log flush is paid once per batch.
@Suite struct RotationTransactionSizeOnRowLockingStoresTests {
    @Test func aLongTransactionOnAStoreWhoseWritersDoNotWaitKeepsTheWholeBatch() {
        var size = TokenRewrapper.ChunkSize(rows: 2_000, limit: 2_000, adapts: false)
        size.adapt(rows: 2_000, seconds: 0.500)
        #expect(size.rows == 2_000)
    }

    @Test(arguments: StoreBackend.all)
    func onlySQLiteShrinksLongTransactionsAndStartsTokenRowsSmaller(_ backend: StoreBackend) throws {
        try withTemporaryDirectory { folder in
            let store = try backend.make(folder: folder)
            var tokens = TokenRewrapper.ChunkSize.first(dataKeys: false, batchSize: 2_000, store: store)
            let dataKeys = TokenRewrapper.ChunkSize.first(dataKeys: true, batchSize: 2_000, store: store)
            let startedAt = tokens.rows
            tokens.adapt(rows: tokens.rows, seconds: 0.500)
            #expect(dataKeys.rows == 2_000)
            if backend.name == "sqlite" {
                #expect(startedAt == 250)
                #expect(tokens.rows < startedAt)
            } else {
                #expect(startedAt == 2_000)
                #expect(tokens.rows == 2_000)
            }
        }
    }
}

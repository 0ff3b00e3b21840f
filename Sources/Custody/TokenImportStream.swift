import Foundation
import Support

/// Reads the input of `tokenkeeper token import` as a stream, so memory stays flat whatever its size:
/// JSON lines (one token endpoint response per line) larger than one read are parsed a line at a time
/// and handed on in batches; a smaller input, a single (pretty-printed) response or an App Service
/// `/.auth/me` array is read whole, as ``TokenImportParser/parse(_:source:provider:defaultTenant:now:)``
/// does (such documents are small), so every entry keeps the location it always had.
///
/// Outcomes per entry are the parser's: records, and problems with their line numbers.

package struct TokenImportStream {
    /// How many bytes one read takes.
    static let chunkSize = 256 * 1024

    private let handle: FileHandle
    private let source: String
    private let provider: String?
    private let defaultTenant: String?
    private let now: Date

    /// A stream over `handle` (a file, or standard input), named `source` in messages.
    package init(handle: FileHandle, source: String, provider: String?, defaultTenant: String?, now: Date) {
        self.handle = handle
        self.source = source
        self.provider = provider
        self.defaultTenant = defaultTenant
        self.now = now
    }

    /// Reads the whole input, calling `body` with the entries of up to `batchSize` lines at a time (the
    /// whole input at once for a document that is not JSON lines). Reading and parsing run on a thread
    /// of their own, a batch or two ahead, while `body` (sealing and writing) runs on the caller's.
    /// - throws: ``ImportError`` when the input as a whole is unreadable; what `body` throws.
    package func read(batchSize: Int, _ body: (TokenImportParser.Result) throws -> Void) throws {
        try read(batchSize: batchSize, prepare: { $0 }, body)
    }

    /// Reads the whole input as ``read(batchSize:_:)`` does, and also runs `prepare` on each batch on the
    /// reading thread (an import seals it there), so that `body` on the caller's thread gets each batch
    /// prepared while the next one is read and prepared: the two threads use both cores.
    ///
    /// `prepare` runs on the reading thread alone, one batch at a time, and must use nothing the caller's
    /// thread uses meanwhile (a custodian of its own, over its own store session).
    /// - throws: ``ImportError`` when the input as a whole is unreadable; what `prepare` or `body` throws
    ///   (an error of `prepare` after `body` has had every batch prepared before it).
    package func read<Prepared>(
        batchSize: Int, prepare: @escaping (TokenImportParser.Result) throws -> Prepared,
        _ body: (Prepared) throws -> Void
    ) throws {
        let queue = BatchQueue<Prepared>(capacity: 1)
        let producer = Producer(stream: self, batchSize: batchSize, prepare: prepare)
        Thread.detachNewThread { producer.run(into: queue) }
        defer {
            queue.cancel()
            queue.waitUntilFinished()
        }
        while let batch = try queue.take() { try body(batch) }
    }

    /// The reading thread's side. `@unchecked Sendable`: the stream (and its file handle) and `prepare`
    /// (and what it captures) are used by that thread alone once handed over.
    private final class Producer<Prepared>: @unchecked Sendable {
        let stream: TokenImportStream
        let batchSize: Int
        let prepare: (TokenImportParser.Result) throws -> Prepared

        init(
            stream: TokenImportStream, batchSize: Int, prepare: @escaping (TokenImportParser.Result) throws -> Prepared
        ) {
            self.stream = stream
            self.batchSize = batchSize
            self.prepare = prepare
        }

        func run(into queue: BatchQueue<Prepared>) {
            do {
                try stream.produce(batchSize: batchSize) { queue.put(try prepare($0)) }
                queue.finish(nil)
            } catch {
                queue.finish(error)
            }
        }
    }

    /// Reads and parses the input, handing each batch to `emit`, which returns false to stop early.
    private func produce(batchSize: Int, _ emit: (TokenImportParser.Result) throws -> Bool) throws {
        let body: (TokenImportParser.Result) throws -> Void = { batch in
            guard try emit(batch) else { throw Stopped() }
        }
        do {
            try produceBatches(batchSize: batchSize, body)
        } catch is Stopped {
            return
        }
    }

    /// The consumer stopped taking batches (it failed): reading ends quietly.
    private struct Stopped: Error {}

    private func produceBatches(batchSize: Int, _ body: (TokenImportParser.Result) throws -> Void) throws {
        var pending = try handle.read(upToCount: Self.chunkSize).map { [UInt8]($0) } ?? []
        pending = Array(ByteOrderMark.dropped(from: pending))
        // An input of one chunk is parsed whole, exactly as before streaming (a single response is "object 1").
        let second = try handle.read(upToCount: Self.chunkSize) ?? Data()
        pending += second
        // Until the first line is whole: is it one JSON object (JSON lines) or the start of a document?
        while !pending.contains(UInt8(ascii: "\n")), let more = try handle.read(upToCount: Self.chunkSize),
            !more.isEmpty
        {
            pending += more
        }
        let firstLine = pending.prefix { $0 != UInt8(ascii: "\n") }
        guard !second.isEmpty, let provider, !provider.isEmpty,
            firstLine.first(where: { !Self.isBlank($0) }) == UInt8(ascii: "{"),
            (try? JSONSerialization.jsonObject(with: Data(firstLine))) is [String: Any]
        else {
            // A document (an array, a pretty-printed object) or an input the parser refuses with its reasons.
            while let more = try handle.read(upToCount: Self.chunkSize), !more.isEmpty { pending += more }
            try body(
                TokenImportParser.parse(
                    Data(pending), source: source, provider: provider, defaultTenant: defaultTenant, now: now))
            return
        }
        var lineNumber = 0
        var batch = TokenImportParser.Result()
        var linesInBatch = 0
        var start = 0
        var finished = false
        while true {
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                lineNumber += 1
                TokenImportParser.parseLine(
                    pending[start..<newline], number: lineNumber, provider: provider, defaultTenant: defaultTenant,
                    now: now, into: &batch)
                start = newline + 1
                linesInBatch += 1
                if linesInBatch >= batchSize {
                    try body(batch)
                    batch = TokenImportParser.Result()
                    linesInBatch = 0
                }
            }
            if finished { break }
            pending.removeFirst(start)
            start = 0
            if let more = try handle.read(upToCount: Self.chunkSize), !more.isEmpty {
                pending += more
            } else {
                pending.append(UInt8(ascii: "\n"))  // the last line, without its newline
                finished = true
            }
        }
        if !batch.records.isEmpty || !batch.problems.isEmpty { try body(batch) }
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
            || byte == UInt8(ascii: "\n")
    }
}

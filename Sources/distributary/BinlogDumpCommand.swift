import ArgumentParser
import BinlogCore
import Distributary
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// `distributary binlog …`: offline tools for binlog files.
struct Binlog: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Offline tools for binlog files.",
        subcommands: [Dump.self])

    /// `distributary binlog dump [--format jsonl|text] FILE...`: decodes binlog files
    /// offline and prints every changed row.
    struct Dump: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decode binlog files offline and print every changed row.",
            discussion: """
                jsonl: one JSON object per changed row: {"file","pos","gtid","db","table","op","before","after"}; \
                pos is the start offset of the ROWS event holding the row, gtid the transaction's GTID or null. \
                text: one block per row in the style of `mysqlbinlog -vv`, with column names. \
                A decode error stops with the error (file and offset) on stderr and exit status 1, \
                after everything decoded before it has been written.
                """)

        enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
            case jsonl, text
        }

        @Option(help: "Output format: jsonl or text.")
        var format: OutputFormat = .jsonl

        @Argument(help: "Binlog files, decoded in the order given.")
        var files: [String]

        func validate() throws {
            if files.isEmpty { throw ValidationError("name at least one binlog file") }
        }

        /// Decoding runs on a thread of its own and hands batches of events to the
        /// rendering thread (this one), so the two halves of the work overlap.
        func run() throws {
            let queue = BlockingQueue<EventBatch>(capacity: 8)
            let paths = files
            let decoding = Thread {
                Self.decode(paths, into: queue)
            }
            decoding.stackSize = 1 << 22
            decoding.start()
            var writer = RowDumpWriter(format: format == .jsonl ? .jsonl : .text)
            var failure: String?
            while let batch = queue.pop() {
                switch batch {
                case .events(let events):
                    for event in events { writer.consume(event) }
                    if writer.pendingByteCount >= Self.flushThreshold {
                        do { try Self.flush(&writer) } catch { queue.close(); throw error }
                    }
                case .failed(let message):
                    failure = message
                }
            }
            try Self.flush(&writer)
            if let failure { throw Failure(message: failure) }
        }

        /// Reads and decodes the files in order, pushing batches of events; an error
        /// ends the stream with `.failed` (after the events decoded before it).
        static func decode(_ paths: [String], into queue: BlockingQueue<EventBatch>) {
            var batch: [DecodedEvent] = []
            batch.reserveCapacity(batchSize)
            do {
                for path in paths {
                    var reader = try BinlogFileReader(path: path)
                    var decoder = EventDecoder(file: reader.fileName)
                    while let event = try reader.nextEvent({ bytes, offset in try decoder.decode(bytes, at: offset) }) {
                        batch.append(event)
                        if batch.count == batchSize {
                            guard queue.push(.events(batch)) else { return }
                            batch.removeAll(keepingCapacity: true)
                        }
                    }
                }
                if !batch.isEmpty { queue.push(.events(batch)) }
            } catch {
                if !batch.isEmpty { queue.push(.events(batch)) }
                queue.push(.failed("\(error)"))
            }
            queue.close()
        }

        /// Events handed from the decoding thread to the rendering thread at a time.
        static let batchSize = 256

        /// Output is written in chunks of about this many bytes.
        static let flushThreshold = 1 << 19

        /// Writes the writer's pending output to standard output.
        static func flush(_ writer: inout RowDumpWriter) throws {
            try writer.drain { bytes in
                guard var base = bytes.baseAddress else { return }
                var left = bytes.count
                while left > 0 {
                    let n = write(1, base, left)
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw Failure(message: "writing to standard output failed: \(String(cString: strerror(errno)))")
                    }
                    base += n
                    left -= n
                }
            }
        }
    }
}

/// What the decoding thread of `binlog dump` hands to the rendering thread.
enum EventBatch: Sendable {
    case events([DecodedEvent])
    /// Decoding stopped with this error text.
    case failed(String)
}

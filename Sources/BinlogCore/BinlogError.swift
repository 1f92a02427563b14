/// An error met while reading or decoding a binary log.
///
/// Every error says what went wrong, where (the binlog position of the event, and
/// the byte offset inside it when that helps) and what to do about it. New codes may
/// be added without breaking callers: `Code` is a struct, not an enum.
public struct BinlogError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. Compare with the static members (`.truncated`, `.corrupt`, …).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: Hashable, Sendable {
            case truncated, checksumMismatch, badMagic, unknownColumnType, unknownTable
            case corrupt, unsupported, io
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// The event or file ends before the data it announces.
        public static let truncated = Code(.truncated)
        /// The CRC32 stored in an event does not match its bytes.
        public static let checksumMismatch = Code(.checksumMismatch)
        /// The file does not start with the binlog magic `0xfe 'b' 'i' 'n'`.
        public static let badMagic = Code(.badMagic)
        /// A TABLE_MAP names a column type this decoder does not know.
        public static let unknownColumnType = Code(.unknownColumnType)
        /// A ROWS event refers to a table id no TABLE_MAP announced.
        public static let unknownTable = Code(.unknownTable)
        /// The bytes contradict the format (bad lengths, impossible values).
        public static let corrupt = Code(.corrupt)
        /// A valid feature this decoder does not handle (compressed or encrypted logs…).
        public static let unsupported = Code(.unsupported)
        /// The operating system refused to open or read a file.
        public static let io = Code(.io)

        public var description: String {
            switch base {
            case .truncated: return "truncated"
            case .checksumMismatch: return "checksumMismatch"
            case .badMagic: return "badMagic"
            case .unknownColumnType: return "unknownColumnType"
            case .unknownTable: return "unknownTable"
            case .corrupt: return "corrupt"
            case .unsupported: return "unsupported"
            case .io: return "io"
            }
        }
    }

    public var code: Code
    /// Where the offending event starts, when known.
    public var position: BinlogPosition?
    /// What happened, where, and how to fix it.
    public var message: String

    public init(code: Code, position: BinlogPosition?, message: String) {
        self.code = code
        self.position = position
        self.message = message
    }

    public var description: String {
        if let position {
            return "BinlogError.\(code) at \(position): \(message)"
        }
        return "BinlogError.\(code): \(message)"
    }
}

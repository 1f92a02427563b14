/// A point in the source's binary log: a file and a byte offset in it.
///
/// Positions order by the file's sequence number (the numeric suffix,
/// `mysql-bin.000012` → 12) and then by offset, so they compare correctly across
/// rotations whatever the base name.
public struct BinlogPosition: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var file: String
    public var offset: UInt64

    public init(file: String, offset: UInt64) {
        self.file = file
        self.offset = offset
    }

    /// The numeric suffix of the file name, or 0 when it has none.
    public var fileSequence: UInt64 {
        guard let dot = file.lastIndex(of: ".") else { return 0 }
        return UInt64(file[file.index(after: dot)...]) ?? 0
    }

    public static func < (a: BinlogPosition, b: BinlogPosition) -> Bool {
        let fa = a.fileSequence, fb = b.fileSequence
        if fa != fb { return fa < fb }
        return a.offset < b.offset
    }

    public var description: String { "\(file):\(offset)" }
}

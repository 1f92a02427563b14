/// The deleted documents of one segment, as a bitset over its document numbers.
///
/// A segment file never changes; its deletes are written as a new, generation-numbered
/// file (`<segment>.<generation>.del`) at each commit that deletes more of its documents.
struct DeleteSet: Sendable, Equatable {
    private(set) var words: [UInt64]
    let docCount: Int
    private(set) var count: Int

    init(docCount: Int) {
        self.docCount = docCount
        self.words = Array(repeating: 0, count: (docCount + 63) / 64)
        self.count = 0
    }

    func contains(_ doc: Int) -> Bool {
        words[doc >> 6] & (1 << UInt64(doc & 63)) != 0
    }

    mutating func insert(_ doc: Int) {
        let mask: UInt64 = 1 << UInt64(doc & 63)
        if words[doc >> 6] & mask == 0 {
            words[doc >> 6] |= mask
            count += 1
        }
    }

    /// The deleted document numbers in ascending order.
    var members: [Int] {
        var result: [Int] = []
        result.reserveCapacity(count)
        for (wordIndex, word) in words.enumerated() where word != 0 {
            var remaining = word
            while remaining != 0 {
                result.append(wordIndex * 64 + remaining.trailingZeroBitCount)
                remaining &= remaining - 1
            }
        }
        return result
    }

    private static let magic: [UInt8] = Array("DDEL".utf8)
    private static let version: UInt32 = 1

    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.writeUInt32(Self.version)
        writer.writeVarint(docCount)
        for word in words { writer.writeUInt64(word) }
        writer.finishWithChecksum()
        return writer.bytes
    }

    /// Decodes a delete file that must belong to a segment of `docCount` documents.
    static func decode(_ bytes: [UInt8], path: String, docCount: Int) throws -> DeleteSet {
        var reader = try ByteReader(bytes: bytes, path: path)
        guard Array(try reader.readBytes(4)) == magic else { throw reader.fail("not a delete file (bad magic)") }
        let version = try reader.readUInt32()
        guard version == Self.version else { throw reader.fail("unsupported delete file version \(version)") }
        let storedCount = try reader.readCount(max: Int(UInt32.max))
        guard storedCount == docCount else {
            throw reader.fail("delete file is for \(storedCount) documents but its segment has \(docCount)")
        }
        var set = DeleteSet(docCount: docCount)
        for index in 0..<set.words.count {
            set.words[index] = try reader.readUInt64()
        }
        guard reader.isAtEnd else { throw reader.fail("trailing bytes") }
        if docCount & 63 != 0, let last = set.words.last, last >> UInt64(docCount & 63) != 0 {
            throw reader.fail("bits set past the last document")
        }
        set.count = set.words.reduce(0) { $0 + $1.nonzeroBitCount }
        return set
    }
}

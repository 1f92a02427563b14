/// The stored fields of a segment's documents, kept encoded in one byte buffer (as in
/// the segment file's stored blocks, after each id: the field count, then per field, by
/// name, its name, a tag — 0 string, 1 integer, 2 double — and the value) with each
/// document's end offset. A dictionary per document took about 200 bytes of heap for two
/// short fields; this takes their bytes plus 8. Decoded when a hit is returned.
struct StoredFields: Sendable, Equatable {
    private(set) var bytes: [UInt8] = []
    /// `ends[doc]`: where document `doc`'s fields end in `bytes` (each starts where the
    /// previous ends).
    private var ends: [Int] = []

    init() {}

    init(reservingDocuments count: Int) {
        ends.reserveCapacity(count)
    }

    var count: Int { ends.count }

    /// Appends a document's fields, encoded.
    mutating func append(_ document: [String: StoredValue]) {
        var writer = ByteWriter()
        writer.writeVarint(document.count)
        for (key, value) in document.sorted(by: { $0.key < $1.key }) {
            writer.writeString(key)
            switch value {
            case .string(let string):
                writer.writeByte(0)
                writer.writeString(string)
            case .int(let int):
                writer.writeByte(1)
                writer.writeUInt64(UInt64(bitPattern: int))
            case .double(let double):
                writer.writeByte(2)
                writer.writeDouble(double)
            }
        }
        bytes.append(contentsOf: writer.bytes)
        ends.append(bytes.count)
    }

    /// Appends a document's fields already encoded (another segment's, when merging).
    mutating func append(encoded: ArraySlice<UInt8>) {
        bytes.append(contentsOf: encoded)
        ends.append(bytes.count)
    }

    /// Reads one document's encoded fields from `reader` (a stored block), checking their
    /// form, and appends them as they are.
    mutating func append(from reader: inout ByteReader) throws {
        let start = reader.offset
        let count = try reader.readCount(max: reader.remaining)
        for _ in 0..<count {
            _ = try reader.readBytes(try reader.readCount(max: reader.remaining))
            switch try reader.readByte() {
            case 0: _ = try reader.readBytes(try reader.readCount(max: reader.remaining))
            case 1, 2: _ = try reader.readBytes(8)
            case let tag: throw reader.fail("unknown stored value tag \(tag)")
            }
        }
        append(encoded: reader.slice(start..<reader.offset))
    }

    /// Document `doc`'s encoded fields.
    func encoded(_ doc: Int) -> ArraySlice<UInt8> {
        bytes[(doc == 0 ? 0 : ends[doc - 1])..<ends[doc]]
    }

    /// Document `doc`'s fields, decoded (the bytes were checked when they were appended).
    subscript(doc: Int) -> [String: StoredValue] {
        var reader = ByteReader(unchecked: Array(encoded(doc)), path: "stored fields")
        var document: [String: StoredValue] = [:]
        guard let count = try? reader.readCount(max: reader.remaining) else { return [:] }
        for _ in 0..<count {
            guard let key = try? reader.readString(), let tag = try? reader.readByte() else { break }
            switch tag {
            case 0: document[key] = (try? reader.readString()).map { .string($0) }
            case 1: document[key] = (try? reader.readUInt64()).map { .int(Int64(bitPattern: $0)) }
            default: document[key] = (try? reader.readDouble()).map { .double($0) }
            }
        }
        return document
    }
}

import Foundation

/// The inverted index of one field within a segment.
///
/// Terms are sorted by their UTF-8 bytes. The postings of term `t` are the slice
/// `postingStart[t]..<postingStart[t + 1]` of `docs` and `freqs` (document numbers
/// ascending); for text fields the positions of posting `p` are
/// `positions[positionStart[p]..<positionStart[p + 1]]`.
struct FieldIndex: Sendable {
    let type: FieldType
    let terms: [String]
    let postingStart: [Int]
    let docs: [UInt32]
    let freqs: [UInt32]
    let positionStart: [Int]
    let positions: [UInt32]
    /// Text fields: the number of tokens of the field in each document (the BM25 norm).
    let lengths: [UInt32]
    /// Number fields: each document's value, NaN when it has none.
    let numbers: [Double]

    /// The index of `term` in `terms`, if present.
    func termOrdinal(_ term: String) -> Int? {
        let index = lowerBound(term)
        return index < terms.count && terms[index].utf8.elementsEqual(term.utf8) ? index : nil
    }

    /// The ordinals of all terms starting with `prefix`.
    func prefixOrdinals(_ prefix: String) -> Range<Int> {
        let start = lowerBound(prefix)
        var end = start
        while end < terms.count, terms[end].utf8.starts(with: prefix.utf8) { end += 1 }
        return start..<end
    }

    /// The first ordinal whose term is not below `key` (binary search comparing UTF-8 bytes).
    private func lowerBound(_ key: String) -> Int {
        var key = key
        return key.withUTF8 { keyBytes in
            var low = 0
            var high = terms.count
            while low < high {
                let middle = (low + high) / 2
                if Self.precedes(terms[middle], keyBytes) { low = middle + 1 } else { high = middle }
            }
            return low
        }
    }

    private static func precedes(_ term: String, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        if let order = term.utf8.withContiguousStorageIfAvailable({ bytes -> Bool in
            let common = min(bytes.count, key.count)
            if common > 0, let left = bytes.baseAddress, let right = key.baseAddress {
                let compared = memcmp(left, right, common)
                if compared != 0 { return compared < 0 }
            }
            return bytes.count < key.count
        }) {
            return order
        }
        return term.utf8.lexicographicallyPrecedes(key)
    }

    func postings(_ ordinal: Int) -> Range<Int> { postingStart[ordinal]..<postingStart[ordinal + 1] }

    func positions(ofPosting posting: Int) -> ArraySlice<UInt32> {
        positions[positionStart[posting]..<positionStart[posting + 1]]
    }
}

/// Sums of field lengths, for BM25's average document length.
struct LengthTotal: Sendable {
    var sum = 0
    var documents = 0
}

/// An immutable segment: a set of documents with their ids, stored fields and the
/// inverted index of every field. Loaded once and shared by every snapshot that uses it.
final class Segment: Sendable {
    let name: String
    let ids: [String]
    let stored: [[String: StoredValue]]
    let fields: [String: FieldIndex]
    /// Per text field: the sum of its lengths and the number of documents having it.
    let lengthTotals: [String: LengthTotal]
    private let idLookup: [String: Int]

    init(name: String, ids: [String], stored: [[String: StoredValue]], fields: [String: FieldIndex]) {
        self.name = name
        self.ids = ids
        self.stored = stored
        self.fields = fields
        var lookup: [String: Int] = [:]
        lookup.reserveCapacity(ids.count)
        for (doc, id) in ids.enumerated() { lookup[id] = doc }
        self.idLookup = lookup
        var totals: [String: LengthTotal] = [:]
        for (name, field) in fields where field.type == .text {
            var total = LengthTotal()
            for length in field.lengths where length > 0 {
                total.sum += Int(length)
                total.documents += 1
            }
            totals[name] = total
        }
        self.lengthTotals = totals
    }

    var docCount: Int { ids.count }

    /// The document number of `id` in this segment (live or deleted), if present.
    func doc(for id: String) -> Int? { idLookup[id] }

    // MARK: - File format

    private static let magic: [UInt8] = Array("DSEG".utf8)
    static let version: UInt32 = 2

    /// Postings are written in blocks of this many documents.
    static let blockSize = 128

    /// The segment file: magic, version, ids, stored fields, then per field (sorted by
    /// name) its type, its term dictionary (each term as the length of the prefix it shares
    /// with the previous one and the rest) with each term's postings, and its norms or
    /// numeric values; a checksum ends the file.
    ///
    /// Postings come in blocks of `blockSize` documents: the document number deltas
    /// bit-packed at the width of the block's largest, then the frequencies (minus one)
    /// likewise; a last, partial block is written as varint pairs. Text fields follow each
    /// block with the varint position deltas of its documents.
    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.writeUInt32(Self.version)
        writer.writeVarint(docCount)
        for id in ids { writer.writeString(id) }
        for document in stored {
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
        }
        writer.writeVarint(fields.count)
        for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
            writer.writeString(name)
            writer.writeByte(Self.typeCode(field.type))
            switch field.type {
            case .text, .keyword:
                writer.writeVarint(field.terms.count)
                var previousTerm: [UInt8] = []
                for ordinal in field.terms.indices {
                    let term = Array(field.terms[ordinal].utf8)
                    var shared = 0
                    while shared < min(term.count, previousTerm.count), term[shared] == previousTerm[shared] { shared += 1 }
                    writer.writeVarint(shared)
                    writer.writeVarint(term.count - shared)
                    writer.write(Array(term[shared...]))
                    previousTerm = term
                    Self.encodePostings(field, field.postings(ordinal), into: &writer)
                }
                if field.type == .text {
                    for length in field.lengths { writer.writeVarint(UInt64(length)) }
                }
            case .number:
                for value in field.numbers {
                    if value.isNaN {
                        writer.writeByte(0)
                    } else {
                        writer.writeByte(1)
                        writer.writeDouble(value)
                    }
                }
            }
        }
        writer.finishWithChecksum()
        return writer.bytes
    }

    private static func encodePostings(_ field: FieldIndex, _ range: Range<Int>, into writer: inout ByteWriter) {
        writer.writeVarint(range.count)
        var previous: UInt32 = 0
        var start = range.lowerBound
        var deltas = [UInt32](repeating: 0, count: blockSize)
        var frequencies = [UInt32](repeating: 0, count: blockSize)
        while start < range.upperBound {
            let end = min(start + blockSize, range.upperBound)
            if end - start == blockSize {
                for posting in start..<end {
                    deltas[posting - start] = field.docs[posting] - previous
                    frequencies[posting - start] = field.freqs[posting] - 1
                    previous = field.docs[posting]
                }
                writer.writePacked(deltas)
                writer.writePacked(frequencies)
            } else {
                for posting in start..<end {
                    writer.writeVarint(UInt64(field.docs[posting] - previous))
                    writer.writeVarint(UInt64(field.freqs[posting]))
                    previous = field.docs[posting]
                }
            }
            if field.type == .text {
                for posting in start..<end {
                    var previousPosition: UInt32 = 0
                    for position in field.positions(ofPosting: posting) {
                        writer.writeVarint(UInt64(position - previousPosition))
                        previousPosition = position
                    }
                }
            }
            start = end
        }
    }

    private static func typeCode(_ type: FieldType) -> UInt8 {
        switch type {
        case .text: return 0
        case .keyword: return 1
        case .number: return 2
        }
    }

    /// Decodes a segment file, checking every count, offset and ordering; damage throws
    /// `corrupt` naming `path`.
    static func decode(_ bytes: [UInt8], name: String, path: String) throws -> Segment {
        var reader = try ByteReader(bytes: bytes, path: path)
        guard Array(try reader.readBytes(4)) == magic else { throw reader.fail("not a segment file (bad magic)") }
        let version = try reader.readUInt32()
        guard version == Self.version else {
            throw reader.fail("segment format version \(version) is not the version \(Self.version) this release reads (indexes made by other releases are not converted)")
        }
        let docCount = try reader.readCount(max: min(reader.remaining, Int(UInt32.max)))
        var ids: [String] = []
        ids.reserveCapacity(docCount)
        for _ in 0..<docCount { ids.append(try reader.readString()) }
        var stored: [[String: StoredValue]] = []
        stored.reserveCapacity(docCount)
        for _ in 0..<docCount {
            let count = try reader.readCount(max: reader.remaining)
            var document: [String: StoredValue] = [:]
            for _ in 0..<count {
                let key = try reader.readString()
                switch try reader.readByte() {
                case 0: document[key] = .string(try reader.readString())
                case 1: document[key] = .int(Int64(bitPattern: try reader.readUInt64()))
                case 2: document[key] = .double(try reader.readDouble())
                case let tag: throw reader.fail("unknown stored value tag \(tag)")
                }
            }
            stored.append(document)
        }
        let fieldCount = try reader.readCount(max: reader.remaining)
        var fields: [String: FieldIndex] = [:]
        for _ in 0..<fieldCount {
            let fieldName = try reader.readString()
            let type: FieldType
            switch try reader.readByte() {
            case 0: type = .text
            case 1: type = .keyword
            case 2: type = .number
            case let code: throw reader.fail("unknown field type \(code) for field '\(fieldName)'")
            }
            fields[fieldName] = try decodeField(type: type, docCount: docCount, reader: &reader)
        }
        guard reader.isAtEnd else { throw reader.fail("trailing bytes") }
        return Segment(name: name, ids: ids, stored: stored, fields: fields)
    }

    private static func decodeField(type: FieldType, docCount: Int, reader: inout ByteReader) throws -> FieldIndex {
        var terms: [String] = []
        var postingStart: [Int] = [0]
        var docs: [UInt32] = []
        var freqs: [UInt32] = []
        var positionStart: [Int] = type == .text ? [0] : []
        var positions: [UInt32] = []
        var lengths: [UInt32] = []
        var numbers: [Double] = []
        switch type {
        case .text, .keyword:
            let termCount = try reader.readCount(max: reader.remaining)
            var previousTerm: [UInt8] = []
            var deltas = [UInt32](repeating: 0, count: blockSize)
            var frequencies = [UInt32](repeating: 0, count: blockSize)
            for _ in 0..<termCount {
                let shared = try reader.readCount(max: previousTerm.count)
                let suffixLength = try reader.readCount(max: reader.remaining)
                var termBytes = Array(previousTerm[..<shared])
                termBytes.append(contentsOf: try reader.readBytes(suffixLength))
                guard let term = String(validating: termBytes, as: UTF8.self) else { throw reader.fail("invalid UTF-8 term") }
                if !terms.isEmpty, !previousTerm.lexicographicallyPrecedes(termBytes) {
                    throw reader.fail("term dictionary out of order")
                }
                terms.append(term)
                previousTerm = termBytes
                // Bit-packed blocks can hold many postings per byte: bound by documents, not bytes.
                let postingCount = try reader.readCount(max: docCount)
                var doc: UInt64 = 0
                var decoded = 0
                while decoded < postingCount {
                    let count = min(blockSize, postingCount - decoded)
                    if count == blockSize {
                        try reader.readPacked(into: &deltas)
                        try reader.readPacked(into: &frequencies)
                    } else {
                        for index in 0..<count {
                            deltas[index] = UInt32(try reader.readCount(max: docCount))
                            let frequency = try reader.readCount(max: Int(UInt32.max))
                            guard frequency > 0 else { throw reader.fail("zero term frequency") }
                            frequencies[index] = UInt32(frequency - 1)
                        }
                    }
                    for index in 0..<count {
                        guard decoded + index == 0 || deltas[index] > 0 else { throw reader.fail("postings out of order") }
                        doc += UInt64(deltas[index])
                        guard doc < UInt64(docCount) else { throw reader.fail("posting for document \(doc) of \(docCount)") }
                        guard frequencies[index] < UInt32.max else { throw reader.fail("term frequency too large") }
                        let frequency = frequencies[index] + 1
                        guard type == .text || frequency == 1 else { throw reader.fail("keyword frequency \(frequency)") }
                        docs.append(UInt32(doc))
                        freqs.append(frequency)
                    }
                    if type == .text {
                        for index in 0..<count {
                            let frequency = Int(freqs[freqs.count - count + index])
                            guard frequency <= reader.remaining else { throw reader.fail("more positions than bytes") }
                            var position: UInt64 = 0
                            for positionIndex in 0..<frequency {
                                let positionDelta = try reader.readVarint()
                                guard positionIndex == 0 || positionDelta > 0 else { throw reader.fail("positions out of order") }
                                position += positionDelta
                                guard position <= UInt64(UInt32.max) else { throw reader.fail("position too large") }
                                positions.append(UInt32(position))
                            }
                            positionStart.append(positions.count)
                        }
                    }
                    decoded += count
                }
                postingStart.append(docs.count)
            }
            if type == .text {
                lengths.reserveCapacity(docCount)
                for _ in 0..<docCount {
                    lengths.append(UInt32(try reader.readCount(max: Int(UInt32.max))))
                }
            }
        case .number:
            numbers.reserveCapacity(docCount)
            for _ in 0..<docCount {
                switch try reader.readByte() {
                case 0: numbers.append(.nan)
                case 1:
                    let value = try reader.readDouble()
                    guard !value.isNaN else { throw reader.fail("NaN number value") }
                    numbers.append(value)
                case let flag: throw reader.fail("bad number presence flag \(flag)")
                }
            }
        }
        return FieldIndex(
            type: type, terms: terms, postingStart: postingStart, docs: docs, freqs: freqs,
            positionStart: positionStart, positions: positions, lengths: lengths, numbers: numbers)
    }
}

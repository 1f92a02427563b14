import Foundation

/// The inverted index of one field within a segment.
///
/// Terms are sorted by their UTF-8 bytes. The postings of term `t` are the slice
/// `postingStart[t]..<postingStart[t + 1]` of `docs` and `freqs` (document numbers
/// ascending); for text fields the positions of posting `p` are
/// `positions[positionStart[p]..<positionStart[p + 1]]`.
struct FieldIndex: Sendable {
    let type: FieldType
    let terms: TermList
    let postingStart: [UInt32]
    let docs: [UInt32]
    let freqs: [UInt32]
    /// UInt32: a segment holds fewer than 2³² positions (16 GiB of them in memory).
    let positionStart: [UInt32]
    let positions: [UInt32]
    /// Text fields: the number of tokens of the field in each document (the BM25 norm).
    let lengths: [UInt32]
    /// Number fields: each document's value, NaN when it has none.
    let numbers: [Double]
    /// Text fields: the skip data of block-max pruning. Each term's postings are cut into
    /// blocks of `Segment.blockSize` (as in the file); block `k` of term `t` is entry
    /// `blockStart[t] + k`, its impact: the largest frequency in the high 32 bits and the
    /// smallest document length in the low 32. No posting of the block scores more than
    /// BM25 of that frequency at that length. Derived from the postings and norms when the
    /// field is built or decoded (the whole segment is decoded in memory).
    let blockStart: [Int]
    let blockImpacts: [UInt64]
    /// Text fields: each term's impact over all its blocks (largest frequency, smallest length).
    let termImpacts: [UInt64]

    init(
        type: FieldType, terms: TermList, postingStart: [UInt32], docs: [UInt32], freqs: [UInt32],
        positionStart: [UInt32], positions: [UInt32], lengths: [UInt32], numbers: [Double]
    ) {
        self.type = type
        self.terms = terms
        self.postingStart = postingStart
        self.docs = docs
        self.freqs = freqs
        self.positionStart = positionStart
        self.positions = positions
        self.lengths = lengths
        self.numbers = numbers
        var blockStart: [Int] = []
        var impacts: [UInt64] = []
        var termImpacts: [UInt64] = []
        if type == .text {
            termImpacts.reserveCapacity(terms.count)
            blockStart.reserveCapacity(terms.count + 1)
            blockStart.append(0)
            docs.withUnsafeBufferPointer { docs in
                freqs.withUnsafeBufferPointer { freqs in
                    lengths.withUnsafeBufferPointer { lengths in
                        for term in terms.indices {
                            var block = Int(postingStart[term])
                            let end = Int(postingStart[term + 1])
                            var termFrequency: UInt32 = 0
                            var termLength = UInt32.max
                            while block < end {
                                let blockEnd = min(block + Segment.blockSize, end)
                                var frequency: UInt32 = 0
                                var length = UInt32.max
                                for posting in block..<blockEnd {
                                    frequency = max(frequency, freqs[posting])
                                    length = min(length, lengths[Int(docs[posting])])
                                }
                                impacts.append(UInt64(frequency) << 32 | UInt64(length))
                                termFrequency = max(termFrequency, frequency)
                                termLength = min(termLength, length)
                                block = blockEnd
                            }
                            blockStart.append(impacts.count)
                            termImpacts.append(UInt64(termFrequency) << 32 | UInt64(termLength))
                        }
                    }
                }
            }
        }
        self.blockStart = blockStart
        self.blockImpacts = impacts
        self.termImpacts = termImpacts
    }

    /// The index of `term` in `terms`, if present.
    func termOrdinal(_ term: String) -> Int? {
        var term = term
        return term.withUTF8 { key in
            let index = lowerBound(key)
            return index < terms.count && terms.compare(index, key) == 0 ? index : nil
        }
    }

    /// The ordinals of all terms starting with `prefix`.
    func prefixOrdinals(_ prefix: String) -> Range<Int> {
        var prefix = prefix
        return prefix.withUTF8 { key in
            let start = lowerBound(key)
            var end = start
            while end < terms.count, terms.hasPrefix(end, key) { end += 1 }
            return start..<end
        }
    }

    /// The first ordinal whose term is not below `key` (binary search comparing UTF-8 bytes).
    private func lowerBound(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var low = 0
        var high = terms.count
        while low < high {
            let middle = (low + high) / 2
            if terms.compare(middle, key) < 0 { low = middle + 1 } else { high = middle }
        }
        return low
    }

    func postings(_ ordinal: Int) -> Range<Int> { Int(postingStart[ordinal])..<Int(postingStart[ordinal + 1]) }

    func positions(ofPosting posting: Int) -> ArraySlice<UInt32> {
        positions[Int(positionStart[posting])..<Int(positionStart[posting + 1])]
    }
}

/// A segment's document numbers by id: open addressing over the segment's `ids` (the
/// keys are not stored twice), 4 bytes a slot and at most half the slots used, so about
/// 10 bytes a document against 40 to 60 for a `[String: Int]`.
struct IDTable: Sendable {
    /// Document number + 1; 0 marks an empty slot.
    private let slots: [UInt32]

    init(_ ids: [String]) {
        var capacity = 16
        while capacity < ids.count * 2 { capacity <<= 1 }
        var slots = [UInt32](repeating: 0, count: capacity)
        let mask = capacity - 1
        for (doc, id) in ids.enumerated() {
            var slot = Self.hash(id) & mask
            // An id twice (never written so, but as a dictionary would): the later document.
            while slots[slot] != 0 && ids[Int(slots[slot]) - 1] != id { slot = (slot + 1) & mask }
            slots[slot] = UInt32(doc + 1)
        }
        self.slots = slots
    }

    func find(_ id: String, in ids: [String]) -> Int? {
        let mask = slots.count - 1
        var slot = Self.hash(id) & mask
        while true {
            let entry = slots[slot]
            if entry == 0 { return nil }
            if ids[Int(entry) - 1] == id { return Int(entry) - 1 }
            slot = (slot + 1) & mask
        }
    }

    /// FNV-1a of the UTF-8 bytes, mixed so the low bits take every byte into account.
    private static func hash(_ id: String) -> Int {
        var id = id
        var h = id.withUTF8 { fnv1a($0) }
        h ^= h >> 29
        h &*= 0xbf58_476d_1ce4_e5b9
        h ^= h >> 32
        return Int(truncatingIfNeeded: h)
    }
}

/// A field's sorted term dictionary: the terms' UTF-8 bytes one after the other in one
/// buffer and where each ends (4 bytes a term, against 16 for a String plus an allocation
/// for each term longer than 15 bytes).
struct TermList: RandomAccessCollection, Equatable, Sendable, ExpressibleByArrayLiteral {
    private var bytes: [UInt8] = []
    private var ends: [UInt32] = []

    init() {}

    init(arrayLiteral terms: String...) {
        for term in terms { append(term) }
    }

    var startIndex: Int { 0 }
    var endIndex: Int { ends.count }
    var byteCount: Int { bytes.count }

    subscript(index: Int) -> String {
        withBytes(index) { String(decoding: $0, as: UTF8.self) }
    }

    func withBytes<Result>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Result) rethrows -> Result {
        let start = index == 0 ? 0 : Int(ends[index - 1])
        return try bytes.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<Int(ends[index])])) }
    }

    mutating func append(_ term: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: term)
        ends.append(UInt32(bytes.count))
    }

    mutating func append(_ term: String) {
        var term = term
        term.withUTF8 { append($0) }
    }

    mutating func append(_ index: Int, of other: TermList) {
        other.withBytes(index) { append($0) }
    }

    mutating func reserveCapacity(terms: Int, bytes count: Int) {
        ends.reserveCapacity(terms)
        bytes.reserveCapacity(count)
    }

    /// The byte order (memcmp, then length) of term `index` against `key`: <0, 0 or >0.
    func compare(_ index: Int, _ key: UnsafeBufferPointer<UInt8>) -> Int {
        withBytes(index) { utf8Compare($0, key) }
    }

    func hasPrefix(_ index: Int, _ prefix: UnsafeBufferPointer<UInt8>) -> Bool {
        withBytes(index) { term in
            term.count >= prefix.count && (prefix.isEmpty || memcmp(term.baseAddress!, prefix.baseAddress!, prefix.count) == 0)
        }
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
    let stored: StoredFields
    let fields: [String: FieldIndex]
    /// Per text field: the sum of its lengths and the number of documents having it.
    let lengthTotals: [String: LengthTotal]
    private let idLookup: IDTable

    init(name: String, ids: [String], stored: StoredFields, fields: [String: FieldIndex]) {
        self.name = name
        self.ids = ids
        self.stored = stored
        self.fields = fields
        self.idLookup = IDTable(ids)
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
    func doc(for id: String) -> Int? { idLookup.find(id, in: ids) }

    // MARK: - File format

    private static let magic: [UInt8] = Array("DSEG".utf8)
    static let version: UInt32 = 3

    /// Postings are written in blocks of this many documents.
    static let blockSize = 128

    /// Documents are stored (id and stored fields) in zstd-compressed blocks of about this
    /// many bytes before compression.
    static let storedBlockBytes = 16 * 1024

    /// Position runs of at least this many values are bit-packed; shorter ones are varints.
    static let packedPositionsMinimum = 16

    /// The segment file: magic, version, the document count, the documents' ids and stored
    /// fields in compressed blocks, then per field (sorted by name) its type, its term
    /// dictionary (each term as the length of the prefix it shares with the previous one
    /// and the rest) with each term's postings, and its norms or numeric values; a
    /// checksum ends the file.
    ///
    /// Stored blocks: the block's document count, its length before and after compression,
    /// and the zstd frame; uncompressed, each document is its id then its stored fields.
    ///
    /// Postings come in blocks of `blockSize` documents: the document number deltas
    /// bit-packed at the width of the block's largest, then the frequencies (minus one)
    /// likewise; a last, partial block is written as varint pairs. Text fields follow each
    /// block with the position deltas of its documents (each document's first position
    /// absolute), bit-packed as one run when there are `packedPositionsMinimum` or more,
    /// else varints.
    ///
    /// Version 3 compressed the stored fields and bit-packed positions; version 2 had them
    /// plain and as varints.
    func encoded() -> [UInt8] {
        var writer = ByteWriter()
        writer.write(Self.magic)
        writer.writeUInt32(Self.version)
        writer.writeVarint(docCount)
        encodeStored(into: &writer)
        writer.writeVarint(fields.count)
        var scratch = PostingScratch()
        for (name, field) in fields.sorted(by: { $0.key < $1.key }) {
            writer.writeString(name)
            writer.writeByte(Self.typeCode(field.type))
            switch field.type {
            case .text, .keyword:
                writer.writeVarint(field.terms.count)
                var previousTerm: [UInt8] = []
                for ordinal in field.terms.indices {
                    field.terms.withBytes(ordinal) { bytes in
                        var shared = 0
                        let limit = min(bytes.count, previousTerm.count)
                        while shared < limit, bytes[shared] == previousTerm[shared] { shared += 1 }
                        writer.writeVarint(shared)
                        writer.writeVarint(bytes.count - shared)
                        writer.write(UnsafeBufferPointer(rebasing: bytes[shared...]))
                        previousTerm.removeAll(keepingCapacity: true)
                        previousTerm.append(contentsOf: bytes)
                    }
                    Self.encodePostings(field, field.postings(ordinal), into: &writer, scratch: &scratch)
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

    private func encodeStored(into writer: inout ByteWriter) {
        var block = ByteWriter()
        var blockDocs = 0
        func flush() {
            guard blockDocs > 0 else { return }
            writer.writeVarint(blockDocs)
            writer.writeVarint(block.bytes.count)
            let compressed = Zstd.compress(block.bytes)
            writer.writeVarint(compressed.count)
            writer.write(compressed)
            block = ByteWriter()
            blockDocs = 0
        }
        for doc in 0..<docCount {
            block.writeString(ids[doc])
            block.write(stored.encoded(doc))
            blockDocs += 1
            if block.bytes.count >= Self.storedBlockBytes { flush() }
        }
        flush()
    }

    /// Reused buffers of the postings encoder and decoder.
    private struct PostingScratch {
        var deltas = [UInt32](repeating: 0, count: Segment.blockSize)
        var frequencies = [UInt32](repeating: 0, count: Segment.blockSize)
        var positions: [UInt32] = []
    }

    private static func encodePostings(
        _ field: FieldIndex, _ range: Range<Int>, into writer: inout ByteWriter, scratch: inout PostingScratch
    ) {
        writer.writeVarint(range.count)
        let text = field.type == .text
        field.docs.withUnsafeBufferPointer { docs in
            field.freqs.withUnsafeBufferPointer { freqs in
                var previous: UInt32 = 0
                var start = range.lowerBound
                while start < range.upperBound {
                    let end = min(start + blockSize, range.upperBound)
                    if end - start == blockSize {
                        for posting in start..<end {
                            scratch.deltas[posting - start] = docs[posting] - previous
                            scratch.frequencies[posting - start] = freqs[posting] - 1
                            previous = docs[posting]
                        }
                        writer.writePacked(scratch.deltas)
                        writer.writePacked(scratch.frequencies)
                    } else {
                        for posting in start..<end {
                            writer.writeVarint(UInt64(docs[posting] - previous))
                            writer.writeVarint(UInt64(freqs[posting]))
                            previous = docs[posting]
                        }
                    }
                    if text { encodePositions(field, start..<end, into: &writer, scratch: &scratch.positions) }
                    start = end
                }
            }
        }
    }

    /// The position deltas of postings `range` (each document's first position absolute).
    private static func encodePositions(
        _ field: FieldIndex, _ range: Range<Int>, into writer: inout ByteWriter, scratch: inout [UInt32]
    ) {
        scratch.removeAll(keepingCapacity: true)
        field.positions.withUnsafeBufferPointer { positions in
            for posting in range {
                var previous: UInt32 = 0
                for index in Int(field.positionStart[posting])..<Int(field.positionStart[posting + 1]) {
                    scratch.append(positions[index] - previous)
                    previous = positions[index]
                }
            }
        }
        if scratch.count >= packedPositionsMinimum {
            writer.writePacked(scratch)
        } else {
            for delta in scratch { writer.writeVarint(UInt64(delta)) }
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
        var stored = StoredFields(reservingDocuments: docCount)
        while ids.count < docCount {
            let blockDocs = try reader.readCount(max: docCount - ids.count)
            guard blockDocs > 0 else { throw reader.fail("empty stored block") }
            let rawLength = try reader.readCount(max: Int(Int32.max))
            let compressedLength = try reader.readCount(max: reader.remaining)
            let compressed = try reader.readBytes(compressedLength)
            guard let raw = Zstd.decompress(compressed, length: rawLength) else {
                throw reader.fail("stored block does not decompress to its \(rawLength) bytes")
            }
            var block = ByteReader(unchecked: raw, path: path)
            for _ in 0..<blockDocs {
                ids.append(try block.readString())
                try stored.append(from: &block)
            }
            guard block.isAtEnd else { throw block.fail("trailing bytes in a stored block") }
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
        var terms = TermList()
        var postingStart: [UInt32] = [0]
        var docs: [UInt32] = []
        var freqs: [UInt32] = []
        var positionStart: [UInt32] = type == .text ? [0] : []
        var positions: [UInt32] = []
        var lengths: [UInt32] = []
        var numbers: [Double] = []
        switch type {
        case .text, .keyword:
            let termCount = try reader.readCount(max: reader.remaining)
            var previousTerm: [UInt8] = []
            var scratch = PostingScratch()
            for _ in 0..<termCount {
                let shared = try reader.readCount(max: previousTerm.count)
                let suffixLength = try reader.readCount(max: reader.remaining)
                var termBytes = Array(previousTerm[..<shared])
                termBytes.append(contentsOf: try reader.readBytes(suffixLength))
                guard String(validating: termBytes, as: UTF8.self) != nil else { throw reader.fail("invalid UTF-8 term") }
                if !terms.isEmpty, !previousTerm.lexicographicallyPrecedes(termBytes) {
                    throw reader.fail("term dictionary out of order")
                }
                guard terms.byteCount + termBytes.count <= Int(UInt32.max) else { throw reader.fail("more than 4 GiB of terms in a field") }
                termBytes.withUnsafeBufferPointer { terms.append($0) }
                previousTerm = termBytes
                // Bit-packed blocks can hold many postings per byte: bound by documents, not bytes.
                let postingCount = try reader.readCount(max: docCount)
                var doc: UInt64 = 0
                var decoded = 0
                while decoded < postingCount {
                    let count = min(blockSize, postingCount - decoded)
                    if count == blockSize {
                        try reader.readPacked(into: &scratch.deltas)
                        try reader.readPacked(into: &scratch.frequencies)
                    } else {
                        for index in 0..<count {
                            scratch.deltas[index] = UInt32(try reader.readCount(max: docCount))
                            let frequency = try reader.readCount(max: Int(UInt32.max))
                            guard frequency > 0 else { throw reader.fail("zero term frequency") }
                            scratch.frequencies[index] = UInt32(frequency - 1)
                        }
                    }
                    var positionCount = 0
                    for index in 0..<count {
                        guard decoded + index == 0 || scratch.deltas[index] > 0 else { throw reader.fail("postings out of order") }
                        doc += UInt64(scratch.deltas[index])
                        guard doc < UInt64(docCount) else { throw reader.fail("posting for document \(doc) of \(docCount)") }
                        guard scratch.frequencies[index] < UInt32.max else { throw reader.fail("term frequency too large") }
                        let frequency = scratch.frequencies[index] + 1
                        guard type == .text || frequency == 1 else { throw reader.fail("keyword frequency \(frequency)") }
                        docs.append(UInt32(doc))
                        freqs.append(frequency)
                        positionCount += Int(frequency)
                    }
                    if type == .text {
                        try decodePositions(
                            count: positionCount, freqs: freqs[(freqs.count - count)...], reader: &reader,
                            scratch: &scratch.positions, positionStart: &positionStart, positions: &positions)
                    }
                    decoded += count
                }
                postingStart.append(UInt32(docs.count))
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

    /// Reads the `count` position deltas of one block of postings with frequencies `freqs`.
    private static func decodePositions(
        count: Int, freqs: ArraySlice<UInt32>, reader: inout ByteReader, scratch: inout [UInt32],
        positionStart: inout [UInt32], positions: inout [UInt32]
    ) throws {
        // Every position takes at least one bit (packed) or one byte (varint).
        guard count <= reader.remaining * 8 else { throw reader.fail("more positions than bytes") }
        if count >= packedPositionsMinimum {
            if scratch.count < count { scratch = [UInt32](repeating: 0, count: count) }
            try scratch.withUnsafeMutableBufferPointer { try reader.readPacked(into: UnsafeMutableBufferPointer(rebasing: $0[0..<count])) }
        } else {
            scratch.removeAll(keepingCapacity: true)
            for _ in 0..<count {
                let delta = try reader.readVarint()
                guard delta <= UInt64(UInt32.max) else { throw reader.fail("position too large") }
                scratch.append(UInt32(delta))
            }
        }
        var next = 0
        for frequency in freqs {
            var position: UInt64 = 0
            for index in 0..<Int(frequency) {
                let delta = scratch[next]
                next += 1
                guard index == 0 || delta > 0 else { throw reader.fail("positions out of order") }
                position += UInt64(delta)
                guard position <= UInt64(UInt32.max) else { throw reader.fail("position too large") }
                positions.append(UInt32(position))
            }
            guard positions.count <= Int(UInt32.max) else { throw reader.fail("more than 2³² positions in a segment") }
            positionStart.append(UInt32(positions.count))
        }
    }
}

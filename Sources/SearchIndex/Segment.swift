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

/// Accumulates documents (new ones, or the live documents of segments being merged)
/// and builds an immutable `Segment`.
///
/// Terms are interned as bytes in a hash table per field (no String per token); each
/// term's postings grow in arrays of their own and are sorted by term only in `build`.
struct SegmentBuilder {
    private let names: [String]
    private let types: [FieldType]
    private var ids: [String] = []
    private var stored: [[String: StoredValue]] = []
    private var fields: [FieldPostings]
    private var scanners: [TermScanner]

    init(fields schema: [String: FieldType], analysis: [String: TextAnalysis] = [:]) {
        names = schema.keys.sorted()
        types = names.map { schema[$0]! }
        fields = names.map { _ in FieldPostings() }
        scanners = names.map { TermScanner(analysis[$0] ?? .standard) }
    }

    init(schema: IndexSchema) {
        self.init(fields: schema.fields, analysis: schema.analysis)
    }

    var isEmpty: Bool { ids.isEmpty }

    /// Adds a document already validated against the schema.
    mutating func add(_ document: Document) {
        let doc = UInt32(ids.count)
        ids.append(document.id)
        stored.append(document.stored)
        for index in names.indices {
            let value = document.fields[names[index]]
            switch (types[index], value) {
            case (.text, .text(let text)?):
                fields[index].doc = doc
                scanners[index].scan(text, into: &fields[index])
                fields[index].lengths.append(UInt32(scanners[index].emitted))
            case (.text, _):
                fields[index].lengths.append(0)
            case (.keyword, .keyword(var keyword)?):
                keyword.withUTF8 { bytes in
                    let term = fields[index].table.intern(bytes)
                    fields[index].append(term: term, doc: doc, frequency: 1, positions: [])
                }
            case (.number, .number(let number)?):
                fields[index].numbers.append(number)
            case (.number, _):
                fields[index].numbers.append(.nan)
            default:
                break
            }
        }
    }

    /// Adds the live documents of `segment` (those not in `deletes`), renumbered after
    /// the documents already added.
    mutating func addLive(of segment: Segment, deletes: DeleteSet?) {
        var remap = [Int](repeating: -1, count: segment.docCount)
        for doc in 0..<segment.docCount where !(deletes?.contains(doc) ?? false) {
            remap[doc] = ids.count
            ids.append(segment.ids[doc])
            stored.append(segment.stored[doc])
        }
        for index in names.indices {
            let source = segment.fields[names[index]]
            switch types[index] {
            case .text, .keyword:
                if types[index] == .text {
                    for doc in 0..<segment.docCount where remap[doc] >= 0 {
                        fields[index].lengths.append(source?.lengths[doc] ?? 0)
                    }
                }
                guard let source else { continue }
                for ordinal in source.terms.indices {
                    let range = source.postings(ordinal)
                    guard range.contains(where: { remap[Int(source.docs[$0])] >= 0 }) else { continue }
                    var term = source.terms[ordinal]
                    let termID = term.withUTF8 { fields[index].table.intern($0) }
                    for posting in range where remap[Int(source.docs[posting])] >= 0 {
                        let positions = types[index] == .text ? source.positions(ofPosting: posting) : []
                        fields[index].append(
                            term: termID, doc: UInt32(remap[Int(source.docs[posting])]),
                            frequency: source.freqs[posting], positions: positions)
                    }
                }
            case .number:
                for doc in 0..<segment.docCount where remap[doc] >= 0 {
                    fields[index].numbers.append(source?.numbers[doc] ?? .nan)
                }
            }
        }
    }

    func build(name: String) -> Segment {
        var built: [String: FieldIndex] = [:]
        for index in names.indices {
            let type = types[index]
            let field = fields[index]
            var terms: [String] = []
            var postingStart: [Int] = [0]
            var docs: [UInt32] = []
            var freqs: [UInt32] = []
            var positionStart: [Int] = type == .text ? [0] : []
            var positions: [UInt32] = []
            if type != .number {
                let order = field.table.sortedIDs()
                terms.reserveCapacity(order.count)
                postingStart.reserveCapacity(order.count + 1)
                for termID in order {
                    let entry = field.postings[termID]
                    terms.append(field.table.string(termID))
                    docs.append(contentsOf: entry.docs)
                    freqs.append(contentsOf: entry.freqs)
                    postingStart.append(docs.count)
                    if type == .text {
                        var offset = positionStart.last!
                        for freq in entry.freqs {
                            offset += Int(freq)
                            positionStart.append(offset)
                        }
                        positions.append(contentsOf: entry.positions)
                    }
                }
            }
            built[names[index]] = FieldIndex(
                type: type, terms: terms, postingStart: postingStart, docs: docs, freqs: freqs,
                positionStart: positionStart, positions: positions,
                lengths: type == .text ? padded(field.lengths, with: 0) : [],
                numbers: type == .number ? padded(field.numbers, with: .nan) : [])
        }
        return Segment(name: name, ids: ids, stored: stored, fields: built)
    }

    private func padded<Value>(_ values: [Value], with filler: Value) -> [Value] {
        values.count == ids.count ? values : values + Array(repeating: filler, count: ids.count - values.count)
    }
}

/// The postings of one field being built, by interned term number.
private struct FieldPostings: TermSink {
    struct TermPostings {
        var docs: [UInt32] = []
        var freqs: [UInt32] = []
        var positions: [UInt32] = []

        /// Counts one more occurrence in `doc` (the last document, or a new one).
        mutating func occurrence(in doc: UInt32, at position: UInt32) {
            if docs.last == doc {
                freqs[freqs.count - 1] += 1
            } else {
                docs.append(doc)
                freqs.append(1)
            }
            positions.append(position)
        }
    }

    var table = TermTable()
    var postings: [TermPostings] = []
    var lengths: [UInt32] = []
    var numbers: [Double] = []
    /// The document whose text is being scanned.
    var doc: UInt32 = 0

    mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>) {
        let termID = table.intern(bytes)
        if termID == postings.count { postings.append(TermPostings()) }
        postings[termID].occurrence(in: doc, at: UInt32(position))
    }

    mutating func append(term termID: Int, doc: UInt32, frequency: UInt32, positions: ArraySlice<UInt32>) {
        if termID == postings.count { postings.append(TermPostings()) }
        postings[termID].docs.append(doc)
        postings[termID].freqs.append(frequency)
        postings[termID].positions.append(contentsOf: positions)
    }
}

/// A set of byte strings numbered in insertion order (0, 1, 2, …): an open-addressing
/// hash table over one byte arena, so interning a known term allocates nothing.
struct TermTable {
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    private var hashes: [UInt64] = []
    private var slots = [Int32](repeating: -1, count: 1024)

    var count: Int { hashes.count }

    /// The number of `key`, adding it if new.
    mutating func intern(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash ^ (hash >> 29)) & mask
        while true {
            let id = Int(slots[slot])
            if id < 0 { break }
            if hashes[id] == hash && matches(id, key) { return id }
            slot = (slot + 1) & mask
        }
        let id = hashes.count
        bytes.append(contentsOf: key)
        starts.append(bytes.count)
        hashes.append(hash)
        slots[slot] = Int32(id)
        if hashes.count * 2 > slots.count { grow() }
        return id
    }

    private func matches(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[id]
        guard starts[id + 1] - start == key.count else { return false }
        return bytes.withUnsafeBufferPointer { stored in
            key.isEmpty || memcmp(stored.baseAddress! + start, key.baseAddress!, key.count) == 0
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: -1, count: slots.count * 2)
        let mask = slots.count - 1
        for id in hashes.indices {
            var slot = Int(truncatingIfNeeded: hashes[id] ^ (hashes[id] >> 29)) & mask
            while slots[slot] >= 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(id)
        }
    }

    func string(_ id: Int) -> String {
        String(decoding: bytes[starts[id]..<starts[id + 1]], as: UTF8.self)
    }

    /// The numbers of all entries, ordered by their bytes.
    func sortedIDs() -> [Int] {
        bytes.withUnsafeBufferPointer { arena in
            Array(hashes.indices).sorted { left, right in
                let leftStart = starts[left]
                let leftCount = starts[left + 1] - leftStart
                let rightStart = starts[right]
                let rightCount = starts[right + 1] - rightStart
                let common = min(leftCount, rightCount)
                if common > 0 {
                    let order = memcmp(arena.baseAddress! + leftStart, arena.baseAddress! + rightStart, common)
                    if order != 0 { return order < 0 }
                }
                return leftCount < rightCount
            }
        }
    }
}

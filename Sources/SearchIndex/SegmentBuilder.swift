import Foundation

/// Accumulates new documents and builds an immutable `Segment` of them.
///
/// Indexing a token costs one lookup of its bytes in the field's term table (terms are
/// interned in a byte arena, no String per token), one counter increment and one append
/// to the field's token stream. `build` inverts each stream with a counting sort: every
/// term's occurrences land in a range of their own, already in document and position
/// order, and the postings are read off them in one sequential pass.
struct SegmentBuilder {
    private let names: [String]
    private let types: [FieldType]
    private var ids: [String] = []
    private var stored = StoredFields()
    private var fields: [FieldBuffer]
    private var scanners: [TermScanner]

    init(fields schema: [String: FieldType], analysis: [String: TextAnalysis] = [:]) {
        names = schema.keys.sorted()
        types = names.map { schema[$0]! }
        fields = names.map { _ in FieldBuffer() }
        scanners = names.map { TermScanner(analysis[$0] ?? .standard) }
    }

    init(schema: IndexSchema) {
        self.init(fields: schema.fields, analysis: schema.analysis)
    }

    var isEmpty: Bool { ids.isEmpty }

    /// Adds a document already validated against the schema.
    mutating func add(_ document: Document) {
        ids.append(document.id)
        stored.append(document.stored)
        for index in names.indices {
            let value = document.fields[names[index]]
            switch (types[index], value) {
            case (.text, .text(let text)?):
                scanners[index].scan(text, into: &fields[index])
                fields[index].lengths.append(UInt32(scanners[index].emitted))
            case (.text, _):
                fields[index].lengths.append(0)
            case (.keyword, .keyword(var keyword)?):
                keyword.withUTF8 { fields[index].term($0, position: 0, source: 0..<0) }
            case (.number, .number(let number)?):
                fields[index].numbers.append(number)
            case (.number, _):
                fields[index].numbers.append(.nan)
            default:
                break
            }
            fields[index].endDocument()
        }
    }

    func build(name: String) -> Segment {
        var built: [String: FieldIndex] = [:]
        for index in names.indices {
            let type = types[index]
            switch type {
            case .text, .keyword:
                built[names[index]] = fields[index].inverted(type: type)
            case .number:
                built[names[index]] = FieldIndex(
                    type: type, terms: [], postingStart: [0], docs: [], freqs: [], positionStart: [], positions: [],
                    lengths: [], numbers: fields[index].numbers)
            }
        }
        return Segment(name: name, ids: ids, stored: stored, fields: built)
    }
}

/// The terms of one field of the documents being built, as they arrive.
private struct FieldBuffer: TermSink {
    var table = TermTable()
    /// Occurrences per term number.
    var counts: [UInt32] = []
    /// Every occurrence in document order: term number in the high 32 bits, position in the low.
    var tokens: [UInt64] = []
    /// Per document, the end of its occurrences in `tokens`.
    var tokenEnds: [Int] = []
    var lengths: [UInt32] = []
    var numbers: [Double] = []

    mutating func term(_ bytes: UnsafeBufferPointer<UInt8>, position: Int, source: Range<Int>) {
        let termID = table.intern(bytes)
        if termID == counts.count { counts.append(0) }
        counts[termID] += 1
        tokens.append(UInt64(termID) << 32 | UInt64(UInt32(position)))
    }

    mutating func endDocument() { tokenEnds.append(tokens.count) }

    /// The inverted index of the field (see `FieldIndex`).
    func inverted(type: FieldType) -> FieldIndex {
        let order = table.sortedIDs()
        // Where each term's occurrences go, terms in dictionary order.
        var firstSlot = [Int](repeating: 0, count: order.count)
        var running = 0
        for termID in order {
            firstSlot[termID] = running
            running += Int(counts[termID])
        }
        // Occurrences by term, each as document << 32 | position.
        var occurrences = [UInt64](repeating: 0, count: tokens.count)
        occurrences.withUnsafeMutableBufferPointer { occurrences in
            tokens.withUnsafeBufferPointer { tokens in
                var next = firstSlot
                next.withUnsafeMutableBufferPointer { next in
                    var token = 0
                    for doc in tokenEnds.indices {
                        let end = tokenEnds[doc]
                        let document = UInt64(doc) << 32
                        while token < end {
                            let entry = tokens[token]
                            let termID = Int(truncatingIfNeeded: entry >> 32)
                            occurrences[next[termID]] = document | (entry & 0xFFFF_FFFF)
                            next[termID] += 1
                            token += 1
                        }
                    }
                }
            }
        }
        var terms = TermList()
        terms.reserveCapacity(terms: order.count, bytes: table.byteCount)
        var postingStart: [UInt32] = [0]
        postingStart.reserveCapacity(order.count + 1)
        var docs: [UInt32] = []
        var freqs: [UInt32] = []
        let text = type == .text
        var positionStart: [UInt32] = text ? [0] : []
        occurrences.withUnsafeBufferPointer { occurrences in
            for termID in order {
                table.withBytes(termID) { terms.append($0) }
                var slot = firstSlot[termID]
                let end = slot + Int(counts[termID])
                while slot < end {
                    let doc = occurrences[slot] >> 32
                    var frequency: UInt32 = 1
                    slot += 1
                    while slot < end && occurrences[slot] >> 32 == doc {
                        frequency += 1
                        slot += 1
                    }
                    docs.append(UInt32(truncatingIfNeeded: doc))
                    freqs.append(frequency)
                    if text { positionStart.append(UInt32(slot)) }
                }
                postingStart.append(UInt32(docs.count))
            }
        }
        let positions = text ? occurrences.map { UInt32(truncatingIfNeeded: $0) } : []
        return FieldIndex(
            type: type, terms: terms, postingStart: postingStart, docs: docs, freqs: freqs,
            positionStart: positionStart, positions: positions, lengths: text ? lengths : [], numbers: [])
    }
}

/// A set of byte strings numbered in insertion order (0, 1, 2, …): an open-addressing
/// hash table over one byte arena, so interning a known term allocates nothing.
///
/// A slot holds 24 bits of the entry's hash, its length (up to 255), its number, and its
/// first eight bytes: a probe for a term of up to eight bytes (most words) reads one slot
/// and nothing else; longer ones compare the rest in the arena.
struct TermTable {
    private var bytes: [UInt8] = []
    private var starts: [Int] = [0]
    /// Two words per slot: 0 for an empty slot, else the hash's top 24 bits, the length
    /// (capped at 255) in the next 8 and the entry's number + 1 in the low 32; then the
    /// entry's first eight bytes, little-endian, zero-padded.
    private var slots = [UInt64](repeating: 0, count: 2 * 1024)
    private(set) var count = 0

    /// The number of `key`, adding it if new.
    mutating func intern(_ key: UnsafeBufferPointer<UInt8>) -> Int {
        let prefix = Self.prefix(key)
        let hash = Self.hash(key, prefix: prefix)
        let tag = Self.tag(hash, count: key.count)
        let mask = slots.count / 2 - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while true {
            let entry = slots[2 * slot]
            if entry == 0 { break }
            if entry & 0xFFFF_FFFF_0000_0000 == tag && slots[2 * slot + 1] == prefix {
                let id = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                if key.count <= 8 || matches(id, key) { return id }
            }
            slot = (slot + 1) & mask
        }
        let id = count
        bytes.append(contentsOf: key)
        starts.append(bytes.count)
        count += 1
        insert(id, hash: hash, tag: tag, prefix: prefix)
        if count * 2 > slots.count / 2 {
            slots = [UInt64](repeating: 0, count: slots.count * 2)
            for other in 0..<count {
                let (hash, tag, prefix) = withBytes(other) { key in
                    let prefix = Self.prefix(key)
                    let hash = Self.hash(key, prefix: prefix)
                    return (hash, Self.tag(hash, count: key.count), prefix)
                }
                insert(other, hash: hash, tag: tag, prefix: prefix)
            }
        }
        return id
    }

    /// The top 24 bits of `hash` and the length (capped at 255) below them, as slots hold them.
    private static func tag(_ hash: UInt64, count: Int) -> UInt64 {
        hash & 0xFFFF_FF00_0000_0000 | UInt64(min(count, 255)) << 32
    }

    private mutating func insert(_ id: Int, hash: UInt64, tag: UInt64, prefix: UInt64) {
        let mask = slots.count / 2 - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[2 * slot] != 0 { slot = (slot + 1) & mask }
        slots[2 * slot] = tag | UInt64(id + 1)
        slots[2 * slot + 1] = prefix
    }

    /// Whether entry `id` is `key`, whose first eight bytes are known to match.
    private func matches(_ id: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        withBytes(id) { stored in
            stored.count == key.count && memcmp(stored.baseAddress! + 8, key.baseAddress! + 8, key.count - 8) == 0
        }
    }

    var byteCount: Int { bytes.count }

    func withBytes<Result>(_ id: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Result) -> Result {
        let start = starts[id]
        let end = starts[id + 1]
        return bytes.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
    }

    /// The first eight bytes of `key`, little-endian, zero-padded.
    private static func prefix(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        guard let base = key.baseAddress else { return 0 }
        if key.count >= 8 { return UnsafeRawPointer(base).loadUnaligned(as: UInt64.self) }
        var prefix: UInt64 = 0
        for index in 0..<key.count { prefix |= UInt64(base[index]) << UInt64(8 * index) }
        return prefix
    }

    /// A 64-bit hash of `key` (whose first eight bytes are `prefix`), eight bytes at a time.
    private static func hash(_ key: UnsafeBufferPointer<UInt8>, prefix: UInt64) -> UInt64 {
        var hash = (0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count) ^ prefix) &* 0xBF58_476D_1CE4_E5B9
        if key.count > 8, let base = key.baseAddress {
            let raw = UnsafeRawPointer(base)
            var offset = 8
            while offset + 8 <= key.count {
                hash ^= hash >> 29
                hash = (hash ^ raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
                offset += 8
            }
            if offset < key.count {
                var tail: UInt64 = 0
                var shift: UInt64 = 0
                while offset < key.count {
                    tail |= UInt64(base[offset]) << shift
                    shift += 8
                    offset += 1
                }
                hash ^= hash >> 29
                hash = (hash ^ tail) &* 0xBF58_476D_1CE4_E5B9
            }
        }
        hash ^= hash >> 32
        hash = hash &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 29)
    }

    /// The numbers of all entries, ordered by their bytes: by their first eight bytes
    /// (big-endian, so integer order is byte order), then by memcmp.
    func sortedIDs() -> [Int] {
        bytes.withUnsafeBufferPointer { arena in
            var keyed: [(prefix: UInt64, id: Int)] = (0..<count).map { id in
                let start = starts[id]
                let length = starts[id + 1] - start
                var prefix: UInt64 = 0
                for index in 0..<8 {
                    prefix <<= 8
                    if index < length { prefix |= UInt64(arena[start + index]) }
                }
                return (prefix, id)
            }
            keyed.sort { left, right in
                if left.prefix != right.prefix { return left.prefix < right.prefix }
                let leftStart = starts[left.id]
                let leftCount = starts[left.id + 1] - leftStart
                let rightStart = starts[right.id]
                let rightCount = starts[right.id + 1] - rightStart
                let common = min(leftCount, rightCount)
                if common > 8 {
                    let order = memcmp(arena.baseAddress! + leftStart + 8, arena.baseAddress! + rightStart + 8, common - 8)
                    if order != 0 { return order < 0 }
                }
                return leftCount < rightCount
            }
            return keyed.map(\.id)
        }
    }
}

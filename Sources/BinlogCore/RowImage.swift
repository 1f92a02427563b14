#if canImport(Glibc)
import Glibc
#endif
/// One column of a decoded row image. Numbers and packed temporal values are parsed
/// into `payload`; text, binary data and DECIMAL are where their bytes are in the
/// event (`offset`, `length`). See `ColumnCodec.decode(_:column:into:extras:)`.
struct ValueSlot: Sendable {
    static let absent: UInt8 = 0
    static let null: UInt8 = 1
    static let value: UInt8 = 2

    var payload: UInt64 = 0
    var offset: UInt32 = 0
    var length: UInt32 = 0
    /// `absent` (not in the logged image), `null` or `value`.
    var state: UInt8 = ValueSlot.absent
}

/// Slots being decoded: a growable buffer written through a pointer (no per-row array
/// bookkeeping); its memory passes to the `RowStorage` that is built from it.
struct SlotBuffer {
    private(set) var base: UnsafeMutablePointer<ValueSlot>
    private(set) var count = 0
    private(set) var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    /// Makes room for `n` more slots.
    @inline(__always)
    mutating func reserve(_ n: Int) {
        if count + n > capacity { grow(count + n) }
    }

    private mutating func grow(_ needed: Int) {
        let newCapacity = max(needed, capacity * 2)
        let newBase = UnsafeMutablePointer<ValueSlot>.allocate(capacity: newCapacity)
        newBase.moveInitialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    /// Appends `n` absent slots and returns the index of the first.
    @inline(__always)
    mutating func appendAbsent(_ n: Int) -> Int {
        reserve(n)
        let first = count
        (base + first).initialize(repeating: ValueSlot(), count: n)
        count += n
        return first
    }

    /// Frees the memory of a buffer no storage took.
    func deallocate() { base.deallocate() }
}

/// The decoded rows of one ROWS event: the event's bytes, one slot per column and image,
/// and the JSON texts. Every `RowImage` of the event shares it; immutable once built.
final class RowStorage: @unchecked Sendable {
    let bytes: [UInt8]
    let slots: UnsafeMutablePointer<ValueSlot>
    let slotCount: Int
    let extras: [String]
    let codecs: [ColumnCodec]
    /// `TableMap.valueLabels` of the event's table.
    let labels: [[String]?]
    /// `true` for storage of values given directly.
    let isLiteral: Bool
    /// Values given directly (`RowImage(_:)`, array literals) instead of decoded slots.
    let literal: [ColumnValue?]?

    /// Takes over the buffer's memory.
    init(bytes: [UInt8], slots: SlotBuffer, extras: [String], table: TableMap) {
        self.bytes = bytes
        self.slots = slots.base
        slotCount = slots.count
        self.extras = extras
        codecs = table.codecs
        labels = table.valueLabels
        isLiteral = false
        literal = nil
    }

    init(literal: [ColumnValue?]) {
        bytes = []
        slots = .allocate(capacity: 1)
        slotCount = 0
        extras = []
        codecs = []
        labels = []
        isLiteral = true
        self.literal = literal
    }

    deinit { slots.deallocate() }

    /// Column `i`'s value from its slot (`bytes` are `self.bytes`).
    @inline(__always)
    func value(ofColumn i: Int, slot: ValueSlot, in bytes: UnsafeRawBufferPointer) -> ColumnValue? {
        codecs[i].value(of: slot, in: bytes, extras: extras, labels: labels.isEmpty ? nil : labels[i])
    }
}

/// One row image (before or after) of a changed row: one element per table column,
/// `nil` when the column is not in the logged image (`binlog_row_image=MINIMAL`).
///
/// Decoding does not build Strings: a row image keeps its values in the event's bytes
/// (numbers already parsed) and makes a `ColumnValue` — with its String, for text — only
/// when an element is read. Writers that render values (the dump writer) read the bytes
/// directly. Copies share the event's storage.
public struct RowImage: Sendable {
    let storage: RowStorage
    /// Index of column 0's slot in `storage.slots`.
    let base: Int
    public let count: Int

    init(storage: RowStorage, base: Int, count: Int) {
        self.storage = storage
        self.base = base
        self.count = count
    }

    /// A row image of the given values (tests, synthetic changes).
    public init(_ values: [ColumnValue?]) {
        storage = RowStorage(literal: values)
        base = 0
        count = values.count
    }

    /// The column's slot; only for decoded images (`storage.literal == nil`).
    @inline(__always)
    func slot(_ i: Int) -> ValueSlot {
        precondition(i >= 0 && i < count, "column index \(i) out of range 0..<\(count)")
        return storage.slots[base + i]
    }

    /// `true` when column `i` is in the logged image (NULL included).
    public func isPresent(_ i: Int) -> Bool {
        if storage.isLiteral, let literal = storage.literal { return literal[base + i] != nil }
        return slot(i).state != ValueSlot.absent
    }

    /// `true` when column `i` is in the image and SQL NULL.
    public func isNull(_ i: Int) -> Bool {
        if storage.isLiteral, let literal = storage.literal { return literal[base + i] == .null }
        return slot(i).state == ValueSlot.null
    }

    /// `true` when column `i` holds the same value in this image and in `other` (the
    /// other image of the same row change): both NULL, or the same parsed number and the
    /// same bytes. Compares what decoding kept without making values; `false` whenever it
    /// cannot tell (images of different events, a column missing from either image, two
    /// equal JSON documents kept as two texts), so a caller that writes only changed
    /// columns writes too much at worst, never too little.
    public func sameValue(_ i: Int, as other: RowImage) -> Bool {
        if storage.isLiteral || other.storage.isLiteral {
            guard storage.isLiteral, other.storage.isLiteral, let a = storage.literal?[base + i], let b = other.storage.literal?[other.base + i] else { return false }
            return a == b
        }
        guard storage === other.storage, i < count, i < other.count else { return false }
        let a = slot(i), b = other.slot(i)
        guard a.state == b.state, a.state != ValueSlot.absent else { return false }
        if a.state == ValueSlot.null { return true }
        guard a.payload == b.payload, a.length == b.length else { return false }
        // Without bytes, `offset` may hold part of the value (the microseconds of DATETIME2
        // and TIMESTAMP2); with bytes, it says where they are.
        if a.offset == b.offset { return true }
        if a.length == 0 { return false }
        return storage.bytes.withUnsafeBytes { raw in
            memcmp(raw.baseAddress! + Int(a.offset), raw.baseAddress! + Int(b.offset), Int(a.length)) == 0
        }
    }

    /// `true` for an image of values given directly (snapshot rows, tests): it holds
    /// its own values, not an event's.
    public var holdsValues: Bool { storage.isLiteral }

    /// Identifies the storage this image shares with the other images of its event (or
    /// snapshot chunk): holders that keep images count `storageBytes` once per identity.
    public var storageIdentity: ObjectIdentifier { ObjectIdentifier(storage) }

    /// About the memory an image keeps alive: its whole event's bytes, slots and JSON
    /// texts (every image of the event shares them), or its values when given directly.
    public var storageBytes: Int {
        if storage.isLiteral, let literal = storage.literal {
            return 64 + literal.reduce(0) { n, v in
                switch v {
                case .string(let s)?, .decimal(let s)?, .json(let s)?: return n + 24 + s.utf8.count
                case .bytes(let b)?, .geometry(let b)?: return n + 24 + b.count
                default: return n + 24
                }
            }
        }
        return 96 + storage.bytes.count + storage.slotCount * MemoryLayout<ValueSlot>.stride
            + storage.extras.reduce(0) { $0 + 16 + $1.utf8.count }
    }

    /// A cheap fold of column `i`'s decoded form (the parsed number, or where its bytes
    /// are), without making a `ColumnValue`: lets a benchmark look at every value.
    @_spi(Benchmarks)
    public func decodedDigest(_ i: Int) -> UInt64 {
        if storage.isLiteral, let literal = storage.literal { return literal[base + i] == nil ? 0 : 1 }
        let s = slot(i)
        return s.payload &+ UInt64(s.offset) &* 31 &+ UInt64(s.length) &* 961 &+ UInt64(s.state)
    }

    /// All values, made at once.
    public var values: [ColumnValue?] { Array(self) }
}

extension RowImage: RandomAccessCollection {
    public var startIndex: Int { 0 }
    public var endIndex: Int { count }

    public subscript(i: Int) -> ColumnValue? {
        precondition(i >= 0 && i < count, "column index \(i) out of range 0..<\(count)")
        if storage.isLiteral, let literal = storage.literal { return literal[base + i] }
        return storage.bytes.withUnsafeBytes { bytes in
            storage.value(ofColumn: i, slot: storage.slots[base + i], in: bytes)
        }
    }
}

extension RowImage: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: ColumnValue?...) {
        self.init(elements)
    }
}

extension RowImage: Equatable {
    /// Equal when every column holds the same value (or is absent in both).
    public static func == (lhs: RowImage, rhs: RowImage) -> Bool {
        lhs.count == rhs.count && lhs.elementsEqual(rhs)
    }
}

extension RowImage: CustomStringConvertible, CustomDebugStringConvertible {
    public var description: String { values.description }
    public var debugDescription: String { values.debugDescription }
}

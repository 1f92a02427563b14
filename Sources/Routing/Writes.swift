import BinlogCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One cache write, already resolved to a key: what the Redis sink executes. The
/// readable form of one element of `CacheWrites`.
public enum CacheWrite: Sendable, Equatable {
    /// Replace a hash's fields: set `fields`, remove `removed` (the NULL columns); expire
    /// after `ttl` seconds when it is above 0.
    case hash(key: String, fields: [(String, String)], removed: [String], ttl: Int = 0)
    /// Set a string value (json mode); expire after `ttl` seconds when it is above 0.
    case string(key: String, value: String, ttl: Int = 0)
    /// Delete a key (row deletes, key changes, invalidate mode).
    case delete(key: String)

    public var key: String {
        switch self {
        case .hash(let key, _, _, _), .string(let key, _, _), .delete(let key): return key
        }
    }

    public static func == (a: CacheWrite, b: CacheWrite) -> Bool {
        switch (a, b) {
        case let (.hash(k1, f1, r1, t1), .hash(k2, f2, r2, t2)):
            return k1 == k2 && r1 == r2 && t1 == t2 && f1.map { $0.0 } == f2.map { $0.0 } && f1.map { $0.1 } == f2.map { $0.1 }
        case let (.string(k1, v1, t1), .string(k2, v2, t2)): return k1 == k2 && v1 == v2 && t1 == t2
        case let (.delete(k1), .delete(k2)): return k1 == k2
        default: return false
        }
    }
}

/// The cache writes of one transaction (or of a batch), in order, with every key, field
/// name and value in one byte arena: the Router writes values into it straight from the
/// row images, and the Redis sink encodes commands straight from it, so no String is
/// made per value. Reading an element gives its `CacheWrite`.
public struct CacheWrites: Sendable, RandomAccessCollection, Equatable {
    public enum Kind: UInt8, Sendable { case hash, string, delete }

    /// One write: its kind, key, strings (hash: name/value pairs then removed names;
    /// string: the value) as indexes into `spans`, and its TTL.
    public struct Op: Sendable {
        public var kind: Kind
        /// Index in `spans` of the key's span; the write's other strings follow it.
        public var firstSpan: Int32
        /// Hash: fields set. String: 1.
        public var fieldCount: Int32
        /// Hash: fields removed (NULL columns).
        public var removedCount: Int32
        /// Seconds to expire after; 0 = never.
        public var ttl: Int32
    }

    /// Every string of every write, back to back.
    public private(set) var bytes: [UInt8] = []
    /// String boundaries: span k is `bytes[spans[2k]..<spans[2k+1]]`.
    public private(set) var spans: [Int32] = []
    public private(set) var ops: [Op] = []
    /// Redis commands these writes become (HSET, HDEL, EXPIRE, SET, DEL).
    public private(set) var commandCount = 0

    public init() {}

    static func commands(_ op: Op) -> Int {
        switch op.kind {
        case .hash: return (op.fieldCount > 0 ? 1 : 0) + (op.removedCount > 0 ? 1 : 0) + (op.ttl > 0 ? 1 : 0)
        case .string, .delete: return 1
        }
    }

    /// From readable writes (tests, tools).
    public init<S: Sequence>(_ writes: S) where S.Element == CacheWrite {
        for write in writes {
            switch write {
            case .hash(let key, let fields, let removed, let ttl):
                let first = addString(key)
                for (f, v) in fields { _ = addString(f); _ = addString(v) }
                for r in removed { _ = addString(r) }
                appendOp(Op(kind: .hash, firstSpan: first, fieldCount: Int32(fields.count), removedCount: Int32(removed.count), ttl: Int32(ttl)))
            case .string(let key, let value, let ttl):
                let first = addString(key)
                _ = addString(value)
                appendOp(Op(kind: .string, firstSpan: first, fieldCount: 1, removedCount: 0, ttl: Int32(ttl)))
            case .delete(let key):
                appendOp(Op(kind: .delete, firstSpan: addString(key), fieldCount: 0, removedCount: 0, ttl: 0))
            }
        }
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { ops.count }

    public subscript(i: Int) -> CacheWrite {
        let op = ops[i]
        let key = string(Int(op.firstSpan))
        switch op.kind {
        case .delete:
            return .delete(key: key)
        case .string:
            return .string(key: key, value: string(Int(op.firstSpan) + 1), ttl: Int(op.ttl))
        case .hash:
            var fields: [(String, String)] = []
            var k = Int(op.firstSpan) + 1
            for _ in 0..<op.fieldCount { fields.append((string(k), string(k + 1))); k += 2 }
            var removed: [String] = []
            for _ in 0..<op.removedCount { removed.append(string(k)); k += 1 }
            return .hash(key: key, fields: fields, removed: removed, ttl: Int(op.ttl))
        }
    }

    public static func == (a: CacheWrites, b: CacheWrites) -> Bool { a.elementsEqual(b) }

    // MARK: Reading spans

    /// The bytes of span `k`.
    @inline(__always)
    public func withSpan<R>(_ k: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        let start = Int(spans[2 * k]), end = Int(spans[2 * k + 1])
        return try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<end])) }
    }

    public func spanLength(_ k: Int) -> Int { Int(spans[2 * k + 1] - spans[2 * k]) }

    func string(_ k: Int) -> String { withSpan(k) { String(decoding: $0, as: UTF8.self) } }

    /// Whether spans `a` and `b` hold the same bytes.
    public func spansEqual(_ a: Int, _ b: Int) -> Bool {
        let la = spanLength(a)
        guard la == spanLength(b) else { return false }
        let sa = Int(spans[2 * a]), sb = Int(spans[2 * b])
        return bytes.withUnsafeBytes { memcmp($0.baseAddress! + sa, $0.baseAddress! + sb, la) == 0 }
    }

    // MARK: Building

    /// Starts a string at the end of the arena; finish it with `endString()`.
    @inline(__always)
    mutating func beginString() { spans.append(Int32(bytes.count)) }

    @inline(__always)
    mutating func endString() -> Int32 {
        spans.append(Int32(bytes.count))
        return Int32(spans.count / 2 - 1)
    }

    /// Appends to the string being built.
    @inline(__always)
    mutating func withBytes<R>(_ body: (inout [UInt8]) throws -> R) rethrows -> R { try body(&bytes) }

    @discardableResult
    mutating func addString(_ s: String) -> Int32 {
        beginString()
        bytes.append(contentsOf: s.utf8)
        return endString()
    }

    @discardableResult
    mutating func addBytes(_ b: [UInt8]) -> Int32 {
        beginString()
        bytes.append(contentsOf: b)
        return endString()
    }

    mutating func appendOp(_ op: Op) {
        ops.append(op)
        commandCount += Self.commands(op)
    }

    /// Appends every write of `other`, in order.
    public mutating func append(contentsOf other: CacheWrites) {
        if ops.isEmpty { self = other; return }
        let byteShift = Int32(bytes.count), spanShift = Int32(spans.count / 2)
        bytes.append(contentsOf: other.bytes)
        spans.reserveCapacity(spans.count + other.spans.count)
        for s in other.spans { spans.append(s + byteShift) }
        ops.reserveCapacity(ops.count + other.ops.count)
        for var op in other.ops { op.firstSpan += spanShift; ops.append(op) }
        commandCount += other.commandCount
    }

    /// Bytes of the arena (for batch bounds).
    public var byteCount: Int { bytes.count }
}

extension CacheWrites: ExpressibleByArrayLiteral {
    public init(arrayLiteral elements: CacheWrite...) { self.init(elements) }
}

extension CacheWrites: CustomStringConvertible {
    public var description: String { Array(self).description }
}

/// The kind of an index field, as the config names it.
public enum IndexFieldKind: String, Sendable, CaseIterable {
    case text, keyword, number
}

/// One index write: what the index sink executes.
public enum IndexWrite: Sendable {
    /// Insert or replace the document `id` of index `index`.
    case upsert(index: String, id: String, fields: IndexFieldValues, stored: StoredFieldValues)
    /// Remove the document `id` of index `index` (no-op when absent).
    case delete(index: String, id: String)
}

/// A source transaction turned into the writes of every derived store.
public struct RoutedTransaction: Sendable {
    /// Where the transaction ends in the log: the checkpoint once it is applied.
    public var end: BinlogPosition
    public var gtid: String?
    /// The source commit time (seconds since the epoch).
    public var timestamp: UInt32
    /// Rows the transaction changed, mapped or not.
    public var rowCount: Int
    public var cache: CacheWrites
    public var index: [IndexWrite]
    /// A piece of a larger transaction: applying it must not move the checkpoint.
    public var isPartial = false

    public init(end: BinlogPosition, gtid: String?, timestamp: UInt32, rowCount: Int, cache: CacheWrites, index: [IndexWrite],
                isPartial: Bool = false) {
        self.end = end
        self.gtid = gtid
        self.timestamp = timestamp
        self.rowCount = rowCount
        self.cache = cache
        self.index = index
        self.isPartial = isPartial
    }
}

/// Which columns of a row feed an index's fields (or its stored fields): names, kinds and
/// column numbers, shared by every write routed with one plan.
public final class IndexColumns: Sendable {
    public let names: [String]
    public let kinds: [IndexFieldKind]
    public let columns: [Int]
    /// The same fields over a row that holds just their values, in order (columns
    /// 0..<n); nil when `columns` are that already.
    public let dense: IndexColumns?

    public init(names: [String], kinds: [IndexFieldKind], columns: [Int]) {
        precondition(names.count == kinds.count && names.count == columns.count)
        self.names = names
        self.kinds = kinds
        self.columns = columns
        dense = columns == Array(columns.indices) ? nil : IndexColumns(names: names, kinds: kinds, columns: Array(columns.indices))
    }

    /// `row`'s values of these columns alone, in a row of their own (it keeps no event alive).
    func materialize(_ row: RowImage) -> (RowImage, IndexColumns) {
        (RowImage(columns.map { row[$0] ?? .null }), dense ?? self)
    }
}

/// Columns of one row image, read when an element is read: what `IndexFieldValues`
/// and `StoredFieldValues` hold.
public struct RowSelection: Sendable {
    public let row: RowImage
    public let layout: IndexColumns
    /// `true` when `row` is the row image of an event (or of another holder): keeping
    /// these values keeps that whole image alive. `false` once `materialized()`.
    public let sharesRow: Bool

    init(row: RowImage, layout: IndexColumns, sharesRow: Bool) {
        self.row = row
        self.layout = layout
        self.sharesRow = sharesRow
    }

    /// Values given directly (tests, synthetic writes), one column each.
    init(names: [String], kinds: [IndexFieldKind], values: [ColumnValue]) {
        self.init(row: RowImage(values), layout: IndexColumns(names: names, kinds: kinds, columns: Array(values.indices)), sharesRow: false)
    }

    var count: Int { layout.columns.count }
    func value(_ i: Int) -> ColumnValue { row[layout.columns[i]] ?? .null }

    /// The same values made now, in a row of their own: a holder then keeps the values
    /// alone instead of the whole event the row was decoded from.
    func materialized() -> RowSelection {
        if !sharesRow { return self }
        let (row, layout) = layout.materialize(row)
        return RowSelection(row: row, layout: layout, sharesRow: false)
    }
}

/// A collection of the columns of one row image (`RowSelection`): the index fields or
/// the stored fields of a document.
public protocol RowSelectionValues: Sendable {
    var selection: RowSelection { get }
    init(selection: RowSelection)
}

extension RowSelectionValues {
    public var row: RowImage { selection.row }
    public var sharesRow: Bool { selection.sharesRow }
    public var startIndex: Int { 0 }
    public var endIndex: Int { selection.count }

    /// Values read from `row`: routed rows, the event's own image (`sharesRow`), or rows
    /// read by a snapshot, which hold their own values.
    public init(row: RowImage, layout: IndexColumns, sharesRow: Bool? = nil) {
        self.init(selection: RowSelection(row: row, layout: layout, sharesRow: sharesRow ?? !row.holdsValues))
    }

    /// See `RowSelection.materialized()`.
    public func materialized() -> Self { Self(selection: selection.materialized()) }
}

/// An index document's field values, read from the row image when an element is read:
/// routing makes no String for them, so a document the index sink replaces before its
/// commit (a row changed again) costs no values. Copies share the row's event storage
/// (`RowImage.storageBytes`). The router checks that every column is in the image.
public struct IndexFieldValues: RowSelectionValues, RandomAccessCollection, ExpressibleByArrayLiteral {
    public let selection: RowSelection

    public init(selection: RowSelection) { self.selection = selection }

    public init(arrayLiteral elements: (name: String, kind: IndexFieldKind, value: ColumnValue)...) {
        selection = RowSelection(names: elements.map(\.name), kinds: elements.map(\.kind), values: elements.map(\.value))
    }

    public subscript(i: Int) -> (name: String, kind: IndexFieldKind, value: ColumnValue) {
        (selection.layout.names[i], selection.layout.kinds[i], selection.value(i))
    }
}

/// An index document's stored values, read from the row image like `IndexFieldValues`.
public struct StoredFieldValues: RowSelectionValues, RandomAccessCollection, ExpressibleByArrayLiteral {
    public let selection: RowSelection

    public init(selection: RowSelection) { self.selection = selection }

    public init(arrayLiteral elements: (name: String, value: ColumnValue)...) {
        selection = RowSelection(names: elements.map(\.name), kinds: elements.map { _ in .text }, values: elements.map(\.value))
    }

    public subscript(i: Int) -> (name: String, value: ColumnValue) { (selection.layout.names[i], selection.value(i)) }
}

import Foundation

/// A directory holding several named indexes that are committed together, with one
/// manifest and one payload (the replication checkpoint) per commit.
///
/// Guarantees:
/// - Upserts and deletes are buffered; `commit` makes all of them, and the payload,
///   visible at once. A crash at any moment leaves the directory at the last commit.
/// - `snapshot()` returns the last commit and never waits for a running commit.
/// - One writer per directory, across processes (an exclusive `flock` on `LOCK`); a
///   second writer gets a `locked` error. Readers (`openReadOnly`) take no lock.
/// - Segments are merged in the background on a tiered policy: segments are grouped in
///   size tiers (⌊log₈ live documents⌋) and the 8 segments of a full tier become one,
///   dropping deleted documents. A merge runs on a thread of its own while commits go on;
///   it ends with a commit of its own (same payload) that swaps the merged segments for
///   the new one, carrying over the deletes that arrived meanwhile. An index of N
///   documents thus keeps about 7 segments per tier (about 7·log₈ N in all), and each
///   document is rewritten O(log N) times, however small the commits. Segments are loaded
///   once and shared by all snapshots.
///
/// Internally synchronized: its methods may be called from any thread.
public final class IndexStore: @unchecked Sendable {
    private enum Change {
        case upsert(Document)
        case delete
    }

    /// Segments of one size tier that are merged into one as soon as a tier holds this many.
    static let mergeFactor = 8

    private let directory: String
    private let directoryLock: DirectoryLock
    private let writeLock = NSLock()
    private let publishLock = NSLock()
    private var manifest: Manifest
    private var pending: [String: [String: Change]] = [:]
    private var published: IndexSnapshot
    /// The merge running in the background, if any (guarded by `writeLock`).
    private var merging: MergeJob?
    private let mergeQueue = DispatchQueue(label: "SearchIndex.merge", qos: .utility)
    /// Tests: called on the merge thread before a merge starts building.
    var mergeWillStart: (@Sendable () -> Void)?

    /// Opens the store in `directory`, creating the directory and any index of `schemas`
    /// it does not hold yet. An index already in the directory must have the same schema.
    public init(directory: String, schemas: [String: IndexSchema]) throws {
        try FileIO.createDirectory(directory)
        self.directory = directory
        self.directoryLock = try DirectoryLock(path: FileIO.join(directory, "LOCK"), directory: directory)
        let existing = try Manifest.read(directory: directory)
        var manifest = existing ?? Manifest()
        for (name, schema) in schemas.sorted(by: { $0.key < $1.key }) {
            if let entry = manifest.indexes[name] {
                guard entry.schema == schema else {
                    throw SearchError(
                        code: .schemaMismatch,
                        message: "index '\(name)' in \(directory) was built with fields \(Self.describe(entry.schema)) but the configuration now says \(Self.describe(schema)); to change an index's fields, remove the index directory and let distributary rebuild it (resync the tables that feed it)")
                }
            } else {
                manifest.indexes[name] = Manifest.IndexEntry(schema: schema, segments: [])
            }
        }
        let views = try Self.loadForWriter(manifest: manifest, directory: directory)
        let highestSegment = manifest.indexes.values.flatMap(\.segments)
            .compactMap { Self.segmentNumber($0.name) }.max() ?? 0
        manifest.nextSegment = max(manifest.nextSegment, highestSegment + 1)
        if manifest != existing {
            manifest.generation += 1
            try Self.writeManifest(manifest, directory: directory)
        }
        self.manifest = manifest
        self.published = IndexSnapshot(generation: manifest.generation, payload: manifest.payload, indexes: views)
        removeUnreferencedFiles()
    }

    private static func loadForWriter(manifest: Manifest, directory: String) throws -> [String: IndexView] {
        do {
            return try manifest.loadViews(directory: directory)
        } catch let missing as MissingFileError {
            throw SearchError.corrupt(
                missing.path,
                "it is listed in manifest.json but missing; restore the directory from a backup or remove it and resync")
        }
    }

    private static func describe(_ schema: IndexSchema) -> String {
        let fields = schema.fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.rawValue)" }
        return "{\(fields.joined(separator: ", "))} stored [\(schema.stored.sorted().joined(separator: ", "))]"
    }

    /// The payload of the last commit (empty for a new store).
    public var committedPayload: [String: String] { snapshot().payload }

    /// The last committed state.
    public func snapshot() -> IndexSnapshot {
        publishLock.withLock { published }
    }

    /// Adds `document` to `index`, replacing any document with the same id, at the next commit.
    public func upsert(index: String, document: Document) throws {
        try writeLock.withLock {
            guard let schema = manifest.indexes[index]?.schema else {
                throw SearchError.unknownIndex(index, known: Array(manifest.indexes.keys))
            }
            try Self.validate(document, schema: schema, index: index)
            pending[index, default: [:]][document.id] = .upsert(document)
        }
    }

    /// Removes the document `id` from `index` at the next commit; an absent id is a no-op.
    public func delete(index: String, id: String) throws {
        try writeLock.withLock {
            guard manifest.indexes[index] != nil else {
                throw SearchError.unknownIndex(index, known: Array(manifest.indexes.keys))
            }
            pending[index, default: [:]][id] = .delete
        }
    }

    private static func validate(_ document: Document, schema: IndexSchema, index: String) throws {
        for (name, value) in document.fields {
            guard let type = schema.fields[name] else {
                throw SearchError(
                    code: .unknownField,
                    message: "document '\(document.id)' has field '\(name)' that index '\(index)' does not define; add it to the index's fields in the configuration or leave it out")
            }
            guard value.fieldType == type else {
                throw SearchError(
                    code: .fieldType,
                    message: "document '\(document.id)' gives field '\(name)' of index '\(index)' a \(value.fieldType.rawValue) value, but the field is \(type.rawValue)")
            }
            if case .number(let number) = value, number.isNaN {
                throw SearchError(
                    code: .fieldType,
                    message: "document '\(document.id)' gives number field '\(name)' of index '\(index)' the value NaN; leave the field out instead")
            }
        }
        let storedNames = Set(schema.stored)
        for name in document.stored.keys where !storedNames.contains(name) {
            throw SearchError(
                code: .unknownField,
                message: "document '\(document.id)' stores field '\(name)' that index '\(index)' does not list under `stored`; add it there or leave it out")
        }
    }

    /// Makes every buffered change and `payload` durable and visible, atomically.
    ///
    /// New segment and delete files are written and fsynced first; then the manifest is
    /// written to a temporary file, fsynced and renamed over `manifest.json`, and the
    /// directory is fsynced. If it throws, nothing of this commit is visible and the
    /// buffered changes are kept for the next attempt.
    public func commit(payload: [String: String]) throws {
        try writeLock.withLock {
            var next = manifest
            next.generation += 1
            next.payload = payload
            let current = snapshot().indexes
            var views = current
            var newSegments: [Segment] = []
            for (indexName, changes) in pending.sorted(by: { $0.key < $1.key }) where !changes.isEmpty {
                guard let view = current[indexName] else { continue }
                var segments = Self.applyDeletes(changes.keys, to: view, generation: next.generation)
                var documents: [Document] = []
                documents.reserveCapacity(changes.count)
                for id in changes.keys.sorted(by: utf8Precedes) {
                    if case .upsert(let document) = changes[id] { documents.append(document) }
                }
                for segment in Self.build(documents, schema: view.schema, firstNumber: next.nextSegment) {
                    next.nextSegment += 1
                    newSegments.append(segment)
                    segments.append(SegmentView(segment: segment, deletes: nil, deleteGeneration: 0))
                }
                views[indexName] = IndexView(schema: view.schema, segments: segments)
            }
            for (indexName, view) in views {
                next.indexes[indexName]?.segments = view.segments.map {
                    Manifest.SegmentEntry(
                        name: $0.segment.name, docCount: $0.segment.docCount,
                        deleteGeneration: $0.deleteGeneration, deletedCount: $0.deletes?.count ?? 0)
                }
            }
            let referenced = next.referencedFiles
            let toWrite = newSegments.filter { referenced.contains(Manifest.segmentFileName($0.name)) }
            for written in Self.concurrentMap(toWrite.count, { i in
                Result { try FileIO.writeDurably(
                    FileIO.join(directory, Manifest.segmentFileName(toWrite[i].name)), toWrite[i].encoded()) }
            }) { try written.get() }
            for view in views.values {
                for segmentView in view.segments where segmentView.deleteGeneration == next.generation {
                    if let deletes = segmentView.deletes {
                        let name = Manifest.deleteFileName(segmentView.segment.name, generation: next.generation)
                        try FileIO.writeDurably(FileIO.join(directory, name), deletes.encoded())
                    }
                }
            }
            try Self.writeManifest(next, directory: directory)
            manifest = next
            pending.removeAll()
            let snapshot = IndexSnapshot(generation: next.generation, payload: payload, indexes: views)
            publishLock.withLock { published = snapshot }
            removeUnreferencedFiles()
            startMergeIfNeeded()
        }
    }

    /// A commit of at least this many new documents builds them as several segments at
    /// once, one per core (up to `maxParallelBuilds`), each of at least half this many.
    /// (Smaller parts cost more in merges than the threads save.)
    static let parallelBuildMinimum = 16384
    static let maxParallelBuilds = 4

    /// `documents` (sorted by id) as segments numbered from `firstNumber`: one, or for a
    /// large commit one per part of the id range, built on threads of their own.
    private static func build(_ documents: [Document], schema: IndexSchema, firstNumber: Int) -> [Segment] {
        guard !documents.isEmpty else { return [] }
        let parts = documents.count < parallelBuildMinimum ? 1
            : max(1, min(ProcessInfo.processInfo.activeProcessorCount, maxParallelBuilds, documents.count / (parallelBuildMinimum / 2)))
        return concurrentMap(parts) { part in
            let range = documents.count * part / parts..<documents.count * (part + 1) / parts
            var builder = SegmentBuilder(schema: schema)
            for document in documents[range] { builder.add(document) }
            return builder.build(name: segmentName(firstNumber + part))
        }
    }

    /// `body` of 0..<count, all at once (a thread each when there are several), in order.
    private static func concurrentMap<Value>(_ count: Int, _ body: @Sendable (Int) -> Value) -> [Value] {
        if count <= 1 { return (0..<count).map(body) }
        let slots = ConcurrentSlots<Value>(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in slots.set(i, body(i)) }
        return slots.values
    }

    /// glibc's `malloc_trim` (not in the Glibc module's headers), nil elsewhere.
    private static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// Segments being merged into one in the background.
    private struct MergeJob {
        let index: String
        let schema: IndexSchema
        /// The merged segments as they were when the merge started (with their deletes then).
        let sources: [SegmentView]
        let name: String
    }

    /// Starts a background merge of the lowest full tier of some index, unless one runs.
    /// Called with `writeLock` held.
    private func startMergeIfNeeded() {
        guard merging == nil else { return }
        for (indexName, view) in published.indexes.sorted(by: { $0.key < $1.key }) {
            guard let positions = Self.mergeCandidates(view.segments) else { continue }
            let job = MergeJob(
                index: indexName, schema: view.schema, sources: positions.map { view.segments[$0] },
                name: Self.segmentName(manifest.nextSegment))
            manifest.nextSegment += 1
            merging = job
            mergeQueue.async { self.runMerge(job) }
            return
        }
    }

    private func runMerge(_ job: MergeJob) {
        writeLock.withLock { mergeWillStart }?()
        let segment = Segment.merging(job.sources, fields: job.schema.fields, name: job.name)
        var written = segment == nil
        if let segment {
            written = (try? FileIO.writeDurably(
                FileIO.join(directory, Manifest.segmentFileName(segment.name)), segment.encoded())) != nil
        }
        writeLock.withLock {
            merging = nil
            if written { try? finishMerge(job, segment) }
            startMergeIfNeeded()
        }
        // The merged-away segments were just freed: hand their pages back to the system
        // (glibc keeps freed memory in per-thread arenas otherwise, which showed as ~100 MiB
        // of RSS above the heap during snapshots into the index).
        Self.mallocTrim?(0)
    }

    /// Swaps the merged segments for `segment` in a commit of its own, with the deletes
    /// the sources received since the merge started. Called with `writeLock` held; if it
    /// throws, nothing changes (the merged file is removed as unreferenced later).
    private func finishMerge(_ job: MergeJob, _ segment: Segment?) throws {
        guard let view = published.indexes[job.index] else { return }
        var next = manifest
        next.generation += 1
        var deletes = segment.map { DeleteSet(docCount: $0.docCount) }
        var mergedDoc = 0
        var current: [String: SegmentView] = [:]
        for segmentView in view.segments { current[segmentView.segment.name] = segmentView }
        for source in job.sources {
            // A source dropped meanwhile had all its documents deleted.
            let now = current[source.segment.name]
            for doc in 0..<source.segment.docCount where source.isLive(doc) {
                if !(now?.isLive(doc) ?? false) { deletes?.insert(mergedDoc) }
                mergedDoc += 1
            }
        }
        let sourceNames = Set(job.sources.map(\.segment.name))
        var segments = view.segments.filter { !sourceNames.contains($0.segment.name) }
        if let segment, let deletes, deletes.count < segment.docCount {
            let hasDeletes = deletes.count > 0
            segments.append(SegmentView(
                segment: segment, deletes: hasDeletes ? deletes : nil,
                deleteGeneration: hasDeletes ? next.generation : 0))
            if hasDeletes {
                try FileIO.writeDurably(
                    FileIO.join(directory, Manifest.deleteFileName(segment.name, generation: next.generation)),
                    deletes.encoded())
            }
        }
        next.indexes[job.index]?.segments = segments.map {
            Manifest.SegmentEntry(
                name: $0.segment.name, docCount: $0.segment.docCount,
                deleteGeneration: $0.deleteGeneration, deletedCount: $0.deletes?.count ?? 0)
        }
        try Self.writeManifest(next, directory: directory)
        manifest = next
        var indexes = published.indexes
        indexes[job.index] = IndexView(schema: view.schema, segments: segments)
        let snapshot = IndexSnapshot(generation: next.generation, payload: next.payload, indexes: indexes)
        publishLock.withLock { published = snapshot }
        removeUnreferencedFiles()
    }

    /// Waits until no merge runs and no tier is full (for tests, benchmarks and shutdown).
    public func waitForMerges() {
        while writeLock.withLock({ merging != nil }) { usleep(1000) }
    }

    /// The index's segments with the committed live versions of `ids` deleted; segments
    /// left without live documents are dropped.
    private static func applyDeletes(
        _ ids: Dictionary<String, Change>.Keys, to view: IndexView, generation: Int
    ) -> [SegmentView] {
        var deletes: [Int: DeleteSet] = [:]
        for id in ids {
            guard let location = view.locate(id) else { continue }
            let segment = view.segments[location.segment]
            deletes[location.segment, default: segment.deletes ?? DeleteSet(docCount: segment.segment.docCount)]
                .insert(location.doc)
        }
        var segments: [SegmentView] = []
        for (index, segmentView) in view.segments.enumerated() {
            if let updated = deletes[index] {
                if updated.count < segmentView.segment.docCount {
                    segments.append(SegmentView(segment: segmentView.segment, deletes: updated, deleteGeneration: generation))
                }
            } else {
                segments.append(segmentView)
            }
        }
        return segments
    }

    /// The size tier of a segment: ⌊log₈ live documents⌋ (0 below 8 documents).
    static func tier(_ segment: SegmentView) -> Int {
        var tier = 0
        var size = segment.liveCount
        while size >= mergeFactor {
            size /= mergeFactor
            tier += 1
        }
        return tier
    }

    /// The positions of the segments to merge next: all segments of the lowest tier that
    /// holds `mergeFactor` or more of them; nil when no tier is full.
    static func mergeCandidates(_ segments: [SegmentView]) -> [Int]? {
        var byTier: [Int: [Int]] = [:]
        for index in segments.indices { byTier[tier(segments[index]), default: []].append(index) }
        return byTier.filter { $0.value.count >= mergeFactor }.min { $0.key < $1.key }?.value
    }

    private static func segmentName(_ number: Int) -> String {
        let digits = String(number, radix: 16)
        return "seg-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits
    }

    private static func segmentNumber(_ name: String) -> Int? {
        guard name.hasPrefix("seg-") else { return nil }
        return Int(name.dropFirst(4), radix: 16)
    }

    private static func writeManifest(_ manifest: Manifest, directory: String) throws {
        let temporary = FileIO.join(directory, Manifest.temporaryFileName)
        try FileIO.writeDurably(temporary, try manifest.encoded())
        try FileIO.renameFile(temporary, to: FileIO.join(directory, Manifest.fileName))
        try FileIO.syncDirectory(directory)
    }

    /// Removes segment, delete and temporary files the current manifest does not refer to
    /// (left by replaced commits, merges, or a crash in the middle of a commit).
    private func removeUnreferencedFiles() {
        var referenced = manifest.referencedFiles
        if let job = merging { referenced.insert(Manifest.segmentFileName(job.name)) }
        guard let names = try? FileIO.list(directory) else { return }
        for name in names where Manifest.isIndexFile(name) && !referenced.contains(name) {
            FileIO.remove(FileIO.join(directory, name))
        }
    }

    /// Opens the last commit of `directory` for reading, without taking the writer's lock,
    /// so another process (the CLI) can search while a writer runs. If a commit replaces
    /// files while they are being read, it starts again from the new manifest.
    public static func openReadOnly(directory: String) throws -> IndexSnapshot {
        try IndexReader(directory: directory).open()
    }
}

/// The results of `IndexStore.concurrentMap`, each set once by its own thread.
private final class ConcurrentSlots<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [Value?]
    init(_ count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Value) { lock.withLock { slots[index] = value } }
    var values: [Value] { lock.withLock { slots.map { $0! } } }
}

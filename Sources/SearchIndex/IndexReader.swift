/// What `distributary verify` needs beyond searching: every live id of an index, and the
/// committed payload without loading the segments.
extension IndexSnapshot {
    /// The ids of the live documents of `index` (empty for an unknown index), in no order.
    public func documentIDs(index: String) -> [String] {
        guard let view = indexes[index] else { return [] }
        var ids: [String] = []
        ids.reserveCapacity(view.liveCount)
        for segment in view.segments {
            for (doc, id) in segment.segment.ids.enumerated() where segment.isLive(doc) { ids.append(id) }
        }
        return ids
    }
}

extension IndexStore {
    /// The payload (replication checkpoint) of the last commit of `directory`, read from its
    /// manifest alone; nil when the directory holds no index yet. Cheap enough to poll.
    public static func committedPayload(directory: String) throws -> [String: String]? {
        try Manifest.read(directory: directory)?.payload
    }
}

/// Opens successive read-only snapshots of an index directory for a reader in another
/// process than the writer (`distributary verify`), keeping the segment and delete files it
/// already loaded: a file name never gets other contents, so reopening reads only what the
/// writer added since, and keeps up with a writer that commits and merges continuously
/// (`IndexStore.openReadOnly` loads every file each time and can keep losing that race).
/// Not thread-safe.
public final class IndexReader {
    public let directory: String
    private var segments: [String: Segment] = [:]
    private var deletes: [String: DeleteSet] = [:]

    public init(directory: String) {
        self.directory = directory
    }

    /// The last commit of the directory.
    public func open() throws -> IndexSnapshot {
        var attempts = 0
        while true {
            guard let manifest = try Manifest.read(directory: directory) else {
                throw SearchError(
                    code: .notFound,
                    message: "there is no index in \(directory) (no \(Manifest.fileName)); check `index.path` in the configuration, or run `distributary run` once to create it",
                    file: FileIO.join(directory, Manifest.fileName))
            }
            do {
                return IndexSnapshot(generation: manifest.generation, payload: manifest.payload, indexes: try load(manifest))
            } catch let missing as MissingFileError {
                // A commit replaced the file after the manifest was read: read the new manifest.
                attempts += 1
                if try Manifest.read(directory: directory)?.generation == manifest.generation || attempts >= 1000 {
                    throw SearchError.corrupt(
                        missing.path, "it is listed in \(Manifest.fileName) but missing; restore the directory from a backup or remove it and resync")
                }
            }
        }
    }

    private func load(_ manifest: Manifest) throws -> [String: IndexView] {
        var views: [String: IndexView] = [:]
        var used = Set<String>()
        for (indexName, entry) in manifest.indexes {
            var segmentViews: [SegmentView] = []
            for segmentEntry in entry.segments {
                let file = Manifest.segmentFileName(segmentEntry.name)
                used.insert(file)
                let segment: Segment
                if let cached = segments[file] {
                    segment = cached
                } else {
                    let path = FileIO.join(directory, file)
                    guard let bytes = try FileIO.readFile(path) else { throw MissingFileError(path: path) }
                    segment = try Segment.decode(bytes, name: segmentEntry.name, path: path)
                    guard segment.docCount == segmentEntry.docCount else {
                        throw SearchError.corrupt(path, "it holds \(segment.docCount) documents but manifest.json says \(segmentEntry.docCount)")
                    }
                    segments[file] = segment
                }
                var deleteSet: DeleteSet?
                if segmentEntry.deleteGeneration > 0 {
                    let file = Manifest.deleteFileName(segmentEntry.name, generation: segmentEntry.deleteGeneration)
                    used.insert(file)
                    if let cached = deletes[file] {
                        deleteSet = cached
                    } else {
                        let path = FileIO.join(directory, file)
                        guard let bytes = try FileIO.readFile(path) else { throw MissingFileError(path: path) }
                        let set = try DeleteSet.decode(bytes, path: path, docCount: segment.docCount)
                        guard set.count == segmentEntry.deletedCount else {
                            throw SearchError.corrupt(path, "it deletes \(set.count) documents but manifest.json says \(segmentEntry.deletedCount)")
                        }
                        deletes[file] = set
                        deleteSet = set
                    }
                }
                segmentViews.append(SegmentView(segment: segment, deletes: deleteSet, deleteGeneration: segmentEntry.deleteGeneration))
            }
            views[indexName] = IndexView(schema: entry.schema, segments: segmentViews)
        }
        // Files loaded by a failed attempt stay for the next one; after a success only this
        // commit's files are kept.
        segments = segments.filter { used.contains($0.key) }
        deletes = deletes.filter { used.contains($0.key) }
        return views
    }
}

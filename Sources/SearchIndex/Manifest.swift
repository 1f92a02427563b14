import Foundation

/// The commit point of an index directory (`manifest.json`): every index's schema and
/// segments (with the generation of their current delete file), and the payload of the
/// commit. A commit writes it to a temporary file, fsyncs it, and renames it over the
/// previous one, so a reader sees either the old or the new commit, never a mix.
struct Manifest: Codable, Equatable {
    struct SegmentEntry: Codable, Equatable {
        var name: String
        var docCount: Int
        /// 0 when the segment has no deletes; otherwise its delete file is `<name>.<generation>.del`.
        var deleteGeneration: Int
        var deletedCount: Int
    }

    struct IndexEntry: Codable, Equatable {
        var schema: IndexSchema
        var segments: [SegmentEntry]
    }

    static let fileName = "manifest.json"
    static let temporaryFileName = "manifest.json.tmp"
    static let currentFormat = 1

    var format = Manifest.currentFormat
    var generation = 0
    var nextSegment = 1
    var payload: [String: String] = [:]
    var indexes: [String: IndexEntry] = [:]

    static func segmentFileName(_ segment: String) -> String { "\(segment).seg" }

    static func deleteFileName(_ segment: String, generation: Int) -> String { "\(segment).\(generation).del" }

    /// The names of the files this manifest refers to.
    var referencedFiles: Set<String> {
        var files: Set<String> = [Self.fileName]
        for entry in indexes.values {
            for segment in entry.segments {
                files.insert(Self.segmentFileName(segment.name))
                if segment.deleteGeneration > 0 {
                    files.insert(Self.deleteFileName(segment.name, generation: segment.deleteGeneration))
                }
            }
        }
        return files
    }

    /// Whether a file name is one this module creates (and may therefore remove).
    static func isIndexFile(_ name: String) -> Bool {
        name.hasSuffix(".seg") || name.hasSuffix(".del") || name.hasPrefix(temporaryFileName)
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return Array(try encoder.encode(self))
    }

    /// Reads `manifest.json` from `directory`; nil when there is none.
    static func read(directory: String) throws -> Manifest? {
        let path = FileIO.join(directory, fileName)
        guard let bytes = try FileIO.readFile(path) else { return nil }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
        } catch {
            throw SearchError.corrupt(path, "it is not a valid manifest (\(error))")
        }
        guard manifest.format == currentFormat else {
            throw SearchError.corrupt(
                path, "manifest format \(manifest.format) is not supported by this version (it supports \(currentFormat))")
        }
        return manifest
    }
}

/// A file a manifest lists that is not there (a commit may have removed it meanwhile).
struct MissingFileError: Error {
    let path: String
}

extension Manifest {
    /// Loads every index of this manifest from the segment and delete files it lists.
    func loadViews(directory: String) throws -> [String: IndexView] {
        var views: [String: IndexView] = [:]
        for (indexName, entry) in indexes {
            var segments: [SegmentView] = []
            for segmentEntry in entry.segments {
                let path = FileIO.join(directory, Self.segmentFileName(segmentEntry.name))
                guard let bytes = try FileIO.readFile(path) else { throw MissingFileError(path: path) }
                let segment = try Segment.decode(bytes, name: segmentEntry.name, path: path)
                guard segment.docCount == segmentEntry.docCount else {
                    throw SearchError.corrupt(
                        path, "it holds \(segment.docCount) documents but manifest.json says \(segmentEntry.docCount)")
                }
                for (field, type) in entry.schema.fields where segment.fields[field].map({ $0.type != type }) ?? false {
                    throw SearchError.corrupt(path, "field '\(field)' is not indexed as \(type.rawValue) as the schema says")
                }
                var deletes: DeleteSet?
                if segmentEntry.deleteGeneration > 0 {
                    let deletePath = FileIO.join(
                        directory, Self.deleteFileName(segmentEntry.name, generation: segmentEntry.deleteGeneration))
                    guard let bytes = try FileIO.readFile(deletePath) else { throw MissingFileError(path: deletePath) }
                    let set = try DeleteSet.decode(bytes, path: deletePath, docCount: segment.docCount)
                    guard set.count == segmentEntry.deletedCount else {
                        throw SearchError.corrupt(
                            deletePath, "it deletes \(set.count) documents but manifest.json says \(segmentEntry.deletedCount)")
                    }
                    deletes = set
                }
                segments.append(
                    SegmentView(segment: segment, deletes: deletes, deleteGeneration: segmentEntry.deleteGeneration))
            }
            views[indexName] = IndexView(schema: entry.schema, segments: segments)
        }
        return views
    }
}

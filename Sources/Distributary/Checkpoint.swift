import BinlogCore

/// Where a sink stands in the source's log, stored atomically with the sink's data
/// (DESIGN.md, invariant 3): Redis keeps it in a hash written in the same MULTI/EXEC,
/// the index in its commit manifest. Both use these string fields.
public struct Checkpoint: Sendable, Equatable, CustomStringConvertible {
    /// Just past the last applied transaction: where reading resumes.
    public var position: BinlogPosition
    /// GTID of the last applied transaction, when the source has GTIDs.
    public var gtid: String?
    /// MariaDB: the whole GTID position after that transaction, one GTID per replication
    /// domain (`0-1-100,1-2-57`). Reading resumes from it by GTID, on any server of the
    /// replication topology (failover). `nil` on MySQL and in checkpoints of older versions.
    public var gtidPosition: String?
    /// `@@server_id` of the source that wrote the log.
    public var sourceServerID: UInt32
    /// Source commit time of the last applied transaction (seconds since the epoch).
    public var timestamp: UInt32
    /// While a snapshot or resync loads tables: how far it got (`SnapshotProgress`, JSON).
    /// Streaming must not start before it is done.
    public var snapshot: String?

    public init(position: BinlogPosition, gtid: String?, gtidPosition: String? = nil, sourceServerID: UInt32, timestamp: UInt32) {
        self.position = position
        self.gtid = gtid
        self.gtidPosition = gtidPosition
        self.sourceServerID = sourceServerID
        self.timestamp = timestamp
    }

    /// The stored form: `file`, `pos`, `gtid`, `gtid_position`, `server_id`, `timestamp`.
    public var fields: [String: String] {
        var f = ["file": position.file, "pos": String(position.offset),
                 "server_id": String(sourceServerID), "timestamp": String(timestamp)]
        f["gtid"] = gtid ?? ""
        f["gtid_position"] = gtidPosition ?? ""
        f["snapshot"] = snapshot ?? ""
        return f
    }

    /// Reads the stored form; `nil` when `fields` is empty (a sink that has no checkpoint yet).
    public init?(fields: [String: String], sink: String) throws {
        if fields.isEmpty { return nil }
        guard let file = fields["file"], !file.isEmpty, let pos = fields["pos"].flatMap({ UInt64($0) }),
              let server = fields["server_id"].flatMap({ UInt32($0) }) else {
            throw PipelineError("the \(sink) checkpoint is unreadable (\(fields)); it must hold file, pos and server_id. Delete it to start over from source.start (the \(sink) data will be rebuilt only for changes from there on)")
        }
        self.position = BinlogPosition(file: file, offset: pos)
        self.gtid = fields["gtid"].flatMap { $0.isEmpty ? nil : $0 }
        self.gtidPosition = fields["gtid_position"].flatMap { $0.isEmpty ? nil : $0 }
        self.sourceServerID = server
        self.timestamp = fields["timestamp"].flatMap { UInt32($0) } ?? 0
        self.snapshot = fields["snapshot"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public var description: String {
        position.description + (gtidPosition.map { " (GTID position \($0))" } ?? gtid.map { " (gtid \($0))" } ?? "")
    }
}

/// A failure of the pipeline itself; the message says what and how to fix it.
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

import BinlogCore
import Foundation
import MySQLSource
import RedisSink
import Routing
import SearchIndex

/// What `distributary status` shows: the source's head, each sink's checkpoint and how far
/// behind it is, read straight from the source and the stores (the replicator need not run).
public struct StatusReport: Sendable {
    public struct SinkStatus: Sendable {
        public var name: String
        /// Where the checkpoint lives (the Redis key, the index directory).
        public var location: String
        public var checkpoint: Checkpoint?
        public var error: String?
        /// Binlog bytes between the checkpoint and the source's head, when both are known.
        public var behindBytes: UInt64?
        /// Seconds since the source committed the checkpoint's transaction (0 at the head).
        /// The live lag, from the running process, is `lag_seconds` of `GET /status`.
        public var checkpointAge: Double?
        /// Tables whose stored data was built with another mapping than the configuration's.
        public var needsResync: [String] = []
    }

    public var pipeline: String
    public var source: String
    public var head: BinlogPosition?
    public var headGTID: String?
    public var sourceError: String?
    public var sinks: [SinkStatus] = []

    /// Reads everything; a part that cannot be read carries its error instead.
    public static func gather(config: PipelineConfig) -> StatusReport {
        var report = StatusReport(pipeline: config.name, source: config.source.socket ?? "\(config.source.host):\(config.source.port)")
        var logs: [(name: String, size: UInt64)] = []
        do {
            let connection = try MySQLConnection(try Pipeline.connectionOptions(config.source))
            let inspector = SourceInspector(connection: connection)
            let (head, mysqlSet) = try inspector.currentPositionAndGTIDSet()
            report.head = head
            report.headGTID = mysqlSet?.description ?? (try? connection.query("SELECT @@gtid_binlog_pos").rows.first?.first ?? nil) ?? nil
            logs = try ProgressMonitor.binaryLogs(connection)
        } catch {
            report.sourceError = "\(error)"
        }
        func fill(_ sink: inout SinkStatus) {
            guard let cp = sink.checkpoint, let head = report.head else { return }
            if cp.position == head {
                sink.behindBytes = 0
                sink.checkpointAge = 0
                return
            }
            sink.behindBytes = ProgressMonitor.bytes(from: cp.position, to: head, logs: logs)
            if cp.timestamp > 0 { sink.checkpointAge = max(0, Date().timeIntervalSince1970 - Double(cp.timestamp)) }
        }
        if let redis = config.redis {
            let key = "distributary:\(config.name):checkpoint"
            var sink = SinkStatus(name: "redis", location: "\(Self.redacted(redis.url)) \(key)")
            do {
                let url = try RedisURL(parsing: redis.url)
                let fields = redis.cluster
                    ? try RedisClusterSink(url: url, pipelineName: config.name).readCheckpoint()
                    : try RedisSink(url: url, pipelineName: config.name).readCheckpoint()
                sink.checkpoint = try fields.flatMap { try Checkpoint(fields: $0, sink: "redis") }
                if sink.checkpoint == nil { sink.error = "no checkpoint yet (the replicator has not written to this Redis)" }
                let current = MappingFingerprint.all(config, sink: "redis")
                sink.needsResync = MappingFingerprint.stale(stored: dataMappings(stored: fields, current: current), current: current)
                sink.needsResync += pendingTables(fields).filter { !sink.needsResync.contains($0) }
            } catch {
                sink.error = "\(error)"
            }
            fill(&sink)
            report.sinks.append(sink)
        }
        if let index = config.index {
            var sink = SinkStatus(name: "index", location: index.path)
            do {
                let payload = try IndexStore.openReadOnly(directory: index.path).payload
                sink.checkpoint = try Checkpoint(fields: payload, sink: "index")
                if sink.checkpoint == nil { sink.error = "no checkpoint yet (no commit in \(index.path))" }
                let current = MappingFingerprint.all(config, sink: "index")
                sink.needsResync = MappingFingerprint.stale(stored: dataMappings(stored: payload, current: current), current: current)
                sink.needsResync += pendingTables(payload).filter { !sink.needsResync.contains($0) }
            } catch {
                sink.error = "\(error)"
            }
            fill(&sink)
            report.sinks.append(sink)
        }
        return report
    }

    static func redacted(_ url: String) -> String {
        (try? RedisURL(parsing: url).description) ?? url
    }

    /// Human-readable lines.
    public var text: String {
        var lines = ["pipeline  \(pipeline)"]
        if let head {
            lines.append("source    \(source)  head \(head)" + (headGTID.map { $0.isEmpty ? "" : "  gtid \($0)" } ?? ""))
        } else {
            lines.append("source    \(source)  unreadable: \(sourceError ?? "?")")
        }
        for sink in sinks {
            var line = "\(sink.name.padding(toLength: 9, withPad: " ", startingAt: 0)) "
            if let cp = sink.checkpoint {
                line += "checkpoint \(cp)"
                if let b = sink.behindBytes { line += b == 0 ? "  at the head" : "  behind \(b) bytes" }
                if let s = sink.checkpointAge, s > 0 { line += String(format: " (its last transaction was committed %.0f s ago)", s) }
            } else {
                line += sink.error ?? "no checkpoint"
            }
            lines.append(line)
            if sink.checkpoint != nil, let e = sink.error { lines.append("          error: \(e)") }
            if !sink.needsResync.isEmpty {
                lines.append("          needs resync (mapping changed since its data was built, or DDL not yet resynced): \(sink.needsResync.joined(separator: ", "))")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// One JSON object.
    public var json: String {
        var out = "{\"pipeline\":"
        JSONText.appendString(pipeline, to: &out)
        out += ",\"source\":{\"address\":"
        JSONText.appendString(source, to: &out)
        out += ",\"head\":"
        if let head { JSONText.appendString(head.description, to: &out) } else { out += "null" }
        out += ",\"gtid\":"
        if let g = headGTID { JSONText.appendString(g, to: &out) } else { out += "null" }
        out += ",\"error\":"
        if let e = sourceError { JSONText.appendString(e, to: &out) } else { out += "null" }
        out += "},\"sinks\":{"
        for (i, sink) in sinks.enumerated() {
            if i > 0 { out += "," }
            JSONText.appendString(sink.name, to: &out)
            out += ":{\"location\":"
            JSONText.appendString(sink.location, to: &out)
            if let cp = sink.checkpoint {
                out += ",\"file\":"
                JSONText.appendString(cp.position.file, to: &out)
                out += ",\"pos\":\(cp.position.offset),\"gtid_position\":"
                if let g = cp.gtidPosition ?? cp.gtid { JSONText.appendString(g, to: &out) } else { out += "null" }
                out += ",\"timestamp\":\(cp.timestamp)"
            }
            out += ",\"behind_bytes\":" + (sink.behindBytes.map(String.init) ?? "null")
            out += ",\"checkpoint_age_seconds\":" + (sink.checkpointAge.map { String(format: "%.1f", $0) } ?? "null")
            out += ",\"needs_resync\":["
            for (j, t) in sink.needsResync.enumerated() {
                if j > 0 { out += "," }
                JSONText.appendString(t, to: &out)
            }
            out += "],\"error\":"
            if let e = sink.error { JSONText.appendString(e, to: &out) } else { out += "null" }
            out += "}"
        }
        return out + "}}"
    }
}

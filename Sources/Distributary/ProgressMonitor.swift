import BinlogCore
import Foundation
import Logging
import Metrics
import MySQLSource

/// Watches how far the sinks are behind the source's head: every few seconds it asks the
/// source for its head (`SHOW BINARY LOGS`, `SHOW MASTER STATUS`) on a connection of its
/// own, sets `distributary_source_behind_bytes`, and while a backlog is being caught up
/// reports progress — rows/s, percentage of the backlog done and ETA — as a line redrawn
/// in place on a terminal, or as a log line every `logEvery` seconds otherwise.
final class ProgressMonitor: @unchecked Sendable {
    private let options: ConnectionOptions
    private let logger: Logger
    private let interval: Double
    private let terminal: Bool
    private let applied: () -> (position: BinlogPosition?, rows: Int)
    private let behindGauge: Metrics.Gauge
    private let stopLock = NSLock()
    private var stopped = false
    private var connection: MySQLConnection?
    /// The backlog when catching up began, for the percentage.
    private var backlogStart: UInt64?
    private var last: (time: Double, rows: Int, behind: UInt64)?
    private var lastLog = 0.0
    private var drewLine = false
    /// Backlogs smaller than this are not reported (a steady stream is always a little behind).
    static let reportAbove: UInt64 = 4 << 20

    init(options: ConnectionOptions, logger: Logger, interval: Double, terminal: Bool, metrics: PipelineMetrics,
         applied: @escaping () -> (position: BinlogPosition?, rows: Int)) {
        self.options = options
        self.logger = logger
        self.interval = interval
        self.terminal = terminal
        self.applied = applied
        self.behindGauge = metrics.gauge("distributary_source_behind_bytes")
    }

    func start() {
        let thread = Thread { [self] in
            while !isStopped {
                poll()
                // Until a poll has measured the backlog (nothing applied yet, the source
                // unreachable), the next comes in 0.1 s: the index sink holds its commits
                // only once a poll has found the backlog.
                let wait = measured ? interval : 0.1
                var waited = 0.0
                while waited < wait && !isStopped { usleep(100_000); waited += 0.1 }
            }
            if drewLine { FileHandle.standardError.write(Data("\n".utf8)) }
        }
        thread.name = "progress"
        thread.start()
    }

    func stop() {
        stopLock.lock()
        stopped = true
        stopLock.unlock()
    }

    /// The last poll found a backlog of at least `reportAbove` bytes (the index then commits
    /// less often, `SearchIndexSink.catchingUp`).
    var isCatchingUp: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return catchingUp
    }
    private var catchingUp = false
    /// A poll has measured the backlog (on the monitor's thread only).
    private var measured = false

    private func setCatchingUp(_ on: Bool) {
        stopLock.lock()
        catchingUp = on
        stopLock.unlock()
    }

    private var isStopped: Bool {
        stopLock.lock()
        defer { stopLock.unlock() }
        return stopped
    }

    /// Binlog bytes from `position` to the head, or nil when the source cannot say.
    private func behind(_ position: BinlogPosition) throws -> UInt64? {
        if connection == nil { connection = try MySQLConnection(options) }
        guard let c = connection else { return nil }
        let logs = try Self.binaryLogs(c)
        let head = try SourceInspector(connection: c).currentPosition()
        return Self.bytes(from: position, to: head, logs: logs)
    }

    /// The server's binary logs and their sizes (`SHOW BINARY LOGS`).
    static func binaryLogs(_ c: MySQLConnection) throws -> [(name: String, size: UInt64)] {
        try c.query("SHOW BINARY LOGS").rows.compactMap { row in
            guard row.count >= 2, let name = row[0], let size = row[1].flatMap({ UInt64($0) }) else { return nil }
            return (name, size)
        }
    }

    /// Binlog bytes between `position` and `head`: the rest of its file, the whole files
    /// between, and `head`'s offset; nil when `position`'s file is no longer listed.
    static func bytes(from position: BinlogPosition, to head: BinlogPosition, logs: [(name: String, size: UInt64)]) -> UInt64? {
        if position.file == head.file { return head.offset > position.offset ? head.offset - position.offset : 0 }
        guard let i = logs.firstIndex(where: { $0.name == position.file }) else { return nil }
        var bytes = logs[i].size > position.offset ? logs[i].size - position.offset : 0
        for log in logs[(i + 1)...] { bytes += log.name == head.file ? head.offset : log.size }
        return bytes
    }

    private func poll() {
        let (position, rows) = applied()
        logger.trace("progress poll", metadata: ["applied": "\(position?.description ?? "nothing yet")"])
        guard let position else { return }
        let bytes: UInt64
        do {
            guard let b = try behind(position) else { return }
            bytes = b
        } catch {
            logger.debug("progress: cannot read the source's head", metadata: ["cause": "\(error)"])
            connection = nil  // the reader reports source trouble; retry on the next poll
            setCatchingUp(false)
            return
        }
        behindGauge.record(Double(bytes))
        setCatchingUp(bytes >= Self.reportAbove)
        measured = true
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let t = Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
        defer { last = (t, rows, bytes) }
        guard bytes >= Self.reportAbove else {
            if backlogStart != nil {
                backlogStart = nil
                finishLine()
                logger.info("caught up with the source", metadata: ["behind_bytes": "\(bytes)"])
            }
            return
        }
        if backlogStart == nil || bytes > backlogStart! { backlogStart = bytes }
        guard let last, t > last.time else { return }
        let rowRate = Double(rows - last.rows) / (t - last.time)
        let byteRate = last.behind > bytes ? Double(last.behind - bytes) / (t - last.time) : 0
        let done = backlogStart.map { 100 * (1 - Double(bytes) / Double(max($0, 1))) } ?? 0
        let eta = byteRate > 0 ? Self.duration(Double(bytes) / byteRate) : "unknown"
        let text = String(format: "catching up: %.0f rows/s, %.1f MB behind, %.0f%% of the backlog done, ETA %@",
                          rowRate, Double(bytes) / 1_048_576, done, eta)
        if terminal {
            FileHandle.standardError.write(Data("\r\u{1B}[K\(text)".utf8))
            drewLine = true
        } else if t - lastLog >= 10 {
            lastLog = t
            logger.info("catching up", metadata: ["rows_per_s": "\(Int(rowRate))", "behind_bytes": "\(bytes)",
                                                   "done_percent": "\(Int(done))", "eta": "\(eta)"])
        }
    }

    private func finishLine() {
        if drewLine { FileHandle.standardError.write(Data("\n".utf8)); drewLine = false }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(String(format: "%02d", s % 60))s" }
        return "\(s / 3600)h\(String(format: "%02d", s % 3600 / 60))m"
    }
}

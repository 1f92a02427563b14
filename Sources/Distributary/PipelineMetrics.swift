import BinlogCore
import Foundation
import Metrics
import Prometheus

/// The pipeline's metrics, created through swift-metrics on a Prometheus registry of their
/// own (no global bootstrap: several pipelines, e.g. in tests, keep separate counts) and
/// served as Prometheus text at `GET /metrics`.
public final class PipelineMetrics: @unchecked Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory

    let transactionsRead: Metrics.Counter
    let bytesRead: Metrics.Counter
    /// Rows read, by table id and change kind (the table's names checked on every hit, so a
    /// reused id never counts under another table); touched by the reader thread only.
    private var rowsRead: [UInt64: (schema: String, table: String, counter: Metrics.Counter)] = [:]
    private let lock = NSLock()
    private var sinkMetrics: [String: SinkMetrics] = [:]
    private var reconnects: [String: Metrics.Counter] = [:]
    private var errors: [String: Metrics.Counter] = [:]

    struct SinkMetrics {
        let transactions: Metrics.Counter
        let rows: Metrics.Recorder
        let duration: Metrics.Timer
        let lag: Metrics.Gauge
        let checkpointTimestamp: Metrics.Gauge
    }

    public init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultValueHistogramBuckets = [1, 10, 100, 500, 1000, 2000, 5000, 10000, 50000]
        factory.defaultDurationHistogramBuckets = [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                                                   .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5)]
        self.factory = factory
        transactionsRead = Metrics.Counter(label: "distributary_source_transactions_total", factory: factory)
        bytesRead = Metrics.Counter(label: "distributary_source_bytes_total", factory: factory)
    }

    /// A transaction the reader handed to the sinks.
    func read(_ t: Transaction) {
        transactionsRead.increment()
        if t.byteCount > 0 { bytesRead.increment(by: t.byteCount) }
        var i = 0
        let changes = t.changes
        while i < changes.count {
            // Consecutive changes of one table and kind are counted together.
            let table = changes[i].table, kind = changes[i].kind
            var n = 1
            while i + n < changes.count, changes[i + n].kind == kind, changes[i + n].table.tableID == table.tableID { n += 1 }
            let key = table.tableID &* 4 &+ (kind == .insert ? 0 : kind == .update ? 1 : 2)
            if let hit = rowsRead[key], hit.schema == table.schema, hit.table == table.table {
                hit.counter.increment(by: n)
            } else {
                let counter = Metrics.Counter(label: "distributary_source_rows_total",
                                              dimensions: [("table", "\(table.schema).\(table.table)"), ("type", kind.rawValue)], factory: factory)
                rowsRead[key] = (table.schema, table.table, counter)
                counter.increment(by: n)
            }
            i += n
        }
    }

    private func sink(_ name: String) -> SinkMetrics {
        lock.lock()
        defer { lock.unlock() }
        if let m = sinkMetrics[name] { return m }
        let d = [("sink", name)]
        let m = SinkMetrics(
            transactions: Metrics.Counter(label: "distributary_sink_transactions_total", dimensions: d, factory: factory),
            rows: Metrics.Recorder(label: "distributary_sink_batch_rows", dimensions: d, aggregate: true, factory: factory),
            duration: Metrics.Timer(label: "distributary_sink_batch_duration_seconds", dimensions: d, factory: factory),
            lag: Metrics.Gauge(label: "distributary_sink_lag_seconds", dimensions: d, factory: factory),
            checkpointTimestamp: Metrics.Gauge(label: "distributary_sink_checkpoint_timestamp_seconds", dimensions: d, factory: factory))
        sinkMetrics[name] = m
        return m
    }

    /// A batch a sink applied: its transactions and rows, how long it took, and the commit
    /// time of its last transaction (lag = now − that time).
    func applied(sink name: String, transactions: Int, rows: Int, nanoseconds: UInt64, sourceTimestamp: UInt32) {
        let m = sink(name)
        m.transactions.increment(by: transactions)
        m.rows.record(rows)
        m.duration.recordNanoseconds(Int64(clamping: nanoseconds))
        m.checkpointTimestamp.record(Double(sourceTimestamp))
        if sourceTimestamp > 0 { m.lag.record(max(0, Date().timeIntervalSince1970 - Double(sourceTimestamp))) }
    }

    /// A lost connection that is being retried (`source` or a sink's name).
    func reconnect(_ connection: String) {
        increment(&reconnects, "distributary_reconnects_total", label: "connection", value: connection)
    }

    /// An error that stopped the pipeline or a connection, by kind.
    func error(_ kind: String) {
        increment(&errors, "distributary_errors_total", label: "kind", value: kind)
    }

    /// Increments the counter `name{label=value}`, made on first use and kept in `counters`.
    private func increment(_ counters: inout [String: Metrics.Counter], _ name: String, label: String, value: String) {
        lock.lock()
        let counter = counters[value] ?? Metrics.Counter(label: name, dimensions: [(label, value)], factory: factory)
        counters[value] = counter
        lock.unlock()
        counter.increment()
    }

    /// A gauge without labels.
    func gauge(_ name: String) -> Metrics.Gauge { Metrics.Gauge(label: name, factory: factory) }

    /// Prometheus text format.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

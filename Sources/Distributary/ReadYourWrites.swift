import BinlogCore
import Foundation
import Metrics
import MySQLSource

/// What a read-your-writes caller waits for: a transaction by GTID, or a log position.
public enum WaitTarget: Sendable, CustomStringConvertible {
    /// MariaDB `domain-server-seq` or MySQL `uuid:n`.
    case gtid(String)
    case position(BinlogPosition)

    public var description: String {
        switch self {
        case .gtid(let g): return "GTID \(g)"
        case .position(let p): return p.description
        }
    }
}

/// Where each sink's committed data stands, and the callers waiting for it (`GET /wait`).
/// Each sink's thread reports its new position right after the sink committed a batch;
/// that wakes exactly the waiters it satisfies. No polling: a waiter sleeps on its own
/// continuation until a commit or its timeout.
public final class WaitRegistry: @unchecked Sendable {
    public struct SinkPosition: Sendable {
        public var position: BinlogPosition?
        public var gtid: GTIDPosition?
        public var mysqlGTIDs: MySQLGTIDSet?

        func holds(_ target: WaitTarget) -> Bool {
            switch target {
            case .gtid(let g):
                if let held = gtid?.holds(g) { return held }
                if let set = mysqlGTIDs, g.contains(":") { return set.contains(g) }
                return false
            case .position(let p):
                guard let position else { return false }
                return p <= position
            }
        }
    }

    private struct Waiter {
        var target: WaitTarget
        var sinks: [String]
        var continuation: CheckedContinuation<Bool, Never>
    }

    private let lock = NSLock()
    private var positions: [String: SinkPosition] = [:]
    private var waiters: [UInt64: Waiter] = [:]
    private var nextID: UInt64 = 0
    private let outcomes: [String: Metrics.Counter]
    private let duration: Metrics.Timer

    init(metrics: PipelineMetrics) {
        var outcomes: [String: Metrics.Counter] = [:]
        for o in ["ok", "timeout"] {
            outcomes[o] = Metrics.Counter(label: "distributary_waits_total", dimensions: [("outcome", o)], factory: metrics.factory)
        }
        self.outcomes = outcomes
        duration = Metrics.Timer(label: "distributary_wait_duration_seconds", factory: metrics.factory)
    }

    /// The sinks' names, in the pipeline's order.
    public private(set) var sinkNames: [String] = []

    func register(sink: String, position: SinkPosition) {
        lock.lock()
        if !sinkNames.contains(sink) { sinkNames.append(sink) }
        positions[sink] = position
        lock.unlock()
    }

    /// Called by the sink's thread after `sink` committed: wakes the waiters now satisfied.
    func advanced(sink: String, to position: SinkPosition) {
        var ready: [CheckedContinuation<Bool, Never>] = []
        lock.lock()
        positions[sink] = position
        for (id, w) in waiters where w.sinks.contains(sink) && satisfiedLocked(w.target, w.sinks) {
            ready.append(w.continuation)
            waiters[id] = nil
        }
        lock.unlock()
        for c in ready { c.resume(returning: true) }
    }

    private func satisfiedLocked(_ target: WaitTarget, _ sinks: [String]) -> Bool {
        sinks.allSatisfy { positions[$0]?.holds(target) ?? false }
    }

    /// The positions of `sinks` now.
    public func snapshot(_ sinks: [String]) -> [(String, SinkPosition?)] {
        lock.lock()
        defer { lock.unlock() }
        return sinks.map { ($0, positions[$0]) }
    }

    /// Waits until every sink of `sinks` holds `target`, or `timeout` seconds pass.
    /// Returns true when they hold it.
    public func wait(for target: WaitTarget, sinks: [String], timeout: Double) async -> Bool {
        let started = DispatchTime.now().uptimeNanoseconds
        defer { duration.recordNanoseconds(Int64(DispatchTime.now().uptimeNanoseconds - started)) }
        let ok: Bool = await withCheckedContinuation { continuation in
            lock.lock()
            if satisfiedLocked(target, sinks) {
                lock.unlock()
                continuation.resume(returning: true)
                return
            }
            nextID += 1
            let myID = nextID
            waiters[myID] = Waiter(target: target, sinks: sinks, continuation: continuation)
            lock.unlock()
            // The timeout: resumes the waiter unless a commit did first.
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                lock.lock()
                let w = waiters.removeValue(forKey: myID)
                lock.unlock()
                w?.continuation.resume(returning: false)
            }
        }
        outcomes[ok ? "ok" : "timeout"]?.increment()
        return ok
    }

    /// `{"redis":{"file":…,"pos":…,"gtid_position":…},…}` for `sinks`.
    public func json(_ sinks: [String]) -> String {
        var out = "{"
        for (n, (name, p)) in snapshot(sinks).enumerated() {
            if n > 0 { out += "," }
            JSONText.appendString(name, to: &out)
            out += ":{\"file\":"
            if let f = p?.position?.file { JSONText.appendString(f, to: &out) } else { out += "null" }
            out += ",\"pos\":" + (p?.position.map { String($0.offset) } ?? "null")
            out += ",\"gtid_position\":"
            if let g = p?.gtid?.description ?? p?.mysqlGTIDs?.description { JSONText.appendString(g, to: &out) } else { out += "null" }
            out += "}"
        }
        return out + "}"
    }
}

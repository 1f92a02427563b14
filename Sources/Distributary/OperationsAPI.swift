import BinlogCore
import Foundation
import Hummingbird

/// What `GET /ready` reports.
public struct Readiness: Sendable {
    public var ready: Bool
    /// Seconds between the source's commit of the last applied transaction and now, when
    /// the sinks are behind; 0 when every transaction read has been applied.
    public var lagSeconds: Double?
    public var detail: String

    public init(ready: Bool, lagSeconds: Double?, detail: String) {
        self.ready = ready
        self.lagSeconds = lagSeconds
        self.detail = detail
    }
}

extension HTTPAPI {
    /// Adds `GET /metrics` (Prometheus text) and `GET /ready` (200 when caught up within
    /// `http.ready_max_lag`, 503 otherwise).
    public static func addOperations(to router: Hummingbird.Router<BasicRequestContext>, metrics: PipelineMetrics?,
                                     readiness: @escaping @Sendable () -> Readiness,
                                     status: @escaping @Sendable () -> String = { "{\"running\":true}" },
                                     resyncStart: (@Sendable (String) -> (status: Int, body: String))? = nil,
                                     resyncStatus: (@Sendable () -> (status: Int, body: String))? = nil,
                                     waits: WaitRegistry? = nil) {
        router.get("/status") { _, _ -> Response in json(.ok, status()) }
        if let waits {
            router.get("/wait") { request, _ -> Response in
                let (code, body) = await wait(waits, request.uri.queryParameters)
                return json(HTTPResponse.Status(code: code), body)
            }
        }
        if let resyncStart, let resyncStatus {
            router.post("/resync") { request, _ -> Response in
                guard let table = request.uri.queryParameters.get("table"), !table.isEmpty else {
                    return json(.badRequest, "{\"error\":\"name the table: POST /resync?table=db.table\"}")
                }
                let (code, body) = resyncStart(table)
                return json(HTTPResponse.Status(code: code), body)
            }
            router.get("/resync") { _, _ -> Response in
                let (code, body) = resyncStatus()
                return json(HTTPResponse.Status(code: code), body)
            }
        }
        router.get("/metrics") { _, _ -> Response in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: metrics?.render() ?? [])))
        }
        router.get("/ready") { _, _ -> Response in
            let r = readiness()
            var body = "{\"ready\":\(r.ready)"
            if let lag = r.lagSeconds { body += ",\"lag_seconds\":\(lag.isFinite ? String(format: "%.3f", lag) : "null")" }
            body += ",\"detail\":"
            JSONText.appendString(r.detail, to: &body)
            return json(r.ready ? .ok : .serviceUnavailable, body + "}")
        }
    }
}

extension HTTPAPI {
    /// `GET /wait?gtid=…` or `?file=…&pos=…`, with `timeout_ms` (default 5000, at most
    /// 600000) and optionally `sink=redis|index`: 200 with the sinks' positions once every
    /// named sink holds the transaction (and all before it), 408 at the timeout, 400 for a
    /// malformed request.
    static func wait(_ waits: WaitRegistry, _ query: Hummingbird.Parameters) async -> (Int, String) {
        func bad(_ message: String) -> (Int, String) {
            var body = "{\"error\":"
            JSONText.appendString(message, to: &body)
            return (400, body + "}")
        }
        let target: WaitTarget
        if let gtid = query.get("gtid"), !gtid.isEmpty {
            guard query.get("file") == nil else { return bad("give either gtid or file and pos, not both") }
            let mariadb = gtid.split(separator: "-").count == 3 && gtid.split(separator: "-").allSatisfy { UInt64($0) != nil }
            let mysql = gtid.contains(":") && UInt64(gtid[gtid.index(after: gtid.lastIndex(of: ":")!)...]) != nil
            guard mariadb || mysql else {
                return bad("gtid `\(gtid)` is neither a MariaDB GTID (domain-server-sequence, e.g. 0-1-42: SELECT @@last_gtid after COMMIT) nor a MySQL one (uuid:n)")
            }
            target = .gtid(gtid)
        } else if let file = query.get("file"), !file.isEmpty {
            guard let pos = query.get("pos").flatMap({ UInt64($0) }) else { return bad("file needs pos, a byte offset (e.g. from SHOW MASTER STATUS after COMMIT)") }
            target = .position(BinlogPosition(file: file, offset: pos))
        } else {
            return bad("name what to wait for: /wait?gtid=D-S-N (MariaDB: SELECT @@last_gtid after COMMIT) or /wait?file=NAME&pos=N")
        }
        var timeoutMs = 5000.0
        if let t = query.get("timeout_ms") {
            guard let v = Double(t), v >= 0, v <= 600_000 else { return bad("timeout_ms must be a number of milliseconds from 0 to 600000, got `\(t)`") }
            timeoutMs = v
        }
        var sinks = waits.sinkNames
        if let sink = query.get("sink"), !sink.isEmpty {
            guard sinks.contains(sink) else { return bad("sink `\(sink)` is not one of this pipeline's sinks (\(sinks.joined(separator: ", ")))") }
            sinks = [sink]
        }
        let started = Date()
        let ok = await waits.wait(for: target, sinks: sinks, timeout: timeoutMs / 1000)
        let waited = Int(Date().timeIntervalSince(started) * 1000)
        var body = "{\"applied\":\(ok),\"waited_ms\":\(waited),\"target\":"
        JSONText.appendString(target.description, to: &body)
        body += ",\"sinks\":" + waits.json(sinks) + "}"
        return (ok ? 200 : 408, body)
    }

    /// The router's responder, with an API key: every request but `GET /health` needs
    /// `Authorization: Bearer KEY`, else 401.
    public static func responder(_ router: Hummingbird.Router<BasicRequestContext>, apiKey: String?) -> CallbackResponder<BasicRequestContext> {
        let inner = router.buildResponder()
        guard let apiKey else { return CallbackResponder { try await inner.respond(to: $0, context: $1) } }
        let key = Array(apiKey.utf8)
        return CallbackResponder { request, context in
            if request.uri.path == "/health" { return try await inner.respond(to: request, context: context) }
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
                  keysEqual(Array(header.utf8.dropFirst(7)), key) else {
                return Response(status: .unauthorized,
                                headers: [.contentType: "application/json", .wwwAuthenticate: "Bearer"],
                                body: .init(byteBuffer: ByteBuffer(string: "{\"error\":\"missing or wrong API key: send Authorization: Bearer <key> (http.api_key_env / http.api_key_file)\"}")))
            }
            return try await inner.respond(to: request, context: context)
        }
    }

    /// Compares in time independent of where the bytes differ.
    static func keysEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }
}

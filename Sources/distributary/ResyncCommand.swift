import ArgumentParser
import Distributary
import Foundation
import Routing

struct Resync: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Rebuild the derived data of tables: reload their rows and remove entries no row produced.",
        discussion: """
            Without --online, `distributary run` must be stopped: the tables are read at a consistent \
            position, written to every sink, and then Redis keys of the tables' key patterns and index \
            documents that no row produced are deleted (rows deleted while a sink was behind, entries \
            written by hand). The index gets the tables' documents in one commit. Each sink keeps its \
            checkpoint, so the next `run` goes on from there. With --online, the running replicator does \
            the work itself, chunk by chunk between watermarks, without a lock or a pause (see the README).
            """)

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("table"), help: "A table to rebuild (db.table); repeat for several.")
    var tables: [String] = []
    @Flag(help: "Ask the running replicator to rebuild the tables while it streams (watermarks; no lock, no pause).")
    var online = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func validate() throws {
        if tables.isEmpty { throw ValidationError("name at least one table: --table db.table") }
    }

    func run() async throws {
        let config = try options.load()
        if online {
            try await OnlineResyncClient.run(config: config, tables: tables)
            return
        }
        try await loadTables(config: config, what: "resync", logLevel: logLevel,
                             interrupted: "resync interrupted before it finished; run it again (a resync starts over: it must see every row to know what is stale)") {
            try await $0.resync(tables: tables)
        }
    }
}

/// `resync --online`: asks the running replicator (POST /resync) and follows its progress
/// (GET /resync) until it is done; one table after the other.
enum OnlineResyncClient {
    static func run(config: Routing.PipelineConfig, tables: [String]) async throws {
        var headers: [String: String] = [:]
        if let key = try Run.apiKey(config.http) { headers["Authorization"] = "Bearer \(key)" }
        let (host, port) = (config.http.host, config.http.port)
        for table in tables {
            let escaped = table.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? table
            guard let started = HTTPGet.get(host: host, port: port, path: "/resync?table=\(escaped)", headers: headers, method: "POST") else {
                throw Failure(message: "resync --online: the replicator does not answer on http.listen \(host):\(port); start `distributary run`, or resync without --online while it is stopped")
            }
            guard started.status == 202 else {
                throw Failure(message: "resync --online \(table): the replicator answered \(started.status): \(started.body)")
            }
            var lastPrint = Date.distantPast
            while true {
                try await Task.sleep(nanoseconds: 200_000_000)
                guard let status = HTTPGet.get(host: host, port: port, path: "/resync", headers: headers),
                      let object = try? JSONSerialization.jsonObject(with: Data(status.body.utf8)) as? [String: Any] else {
                    throw Failure(message: "resync --online \(table): lost contact with the replicator; GET /resync shows how the resync ended")
                }
                let state = object["state"] as? String ?? "?"
                let rows = object["rows"] as? Int ?? 0, chunks = object["chunks"] as? Int ?? 0
                if state == "running" {
                    if Date().timeIntervalSince(lastPrint) >= 2 {
                        FileHandle.standardError.write(Data("resync \(table): \(chunks) chunks, \(rows) rows loaded\n".utf8))
                        lastPrint = Date()
                    }
                    continue
                }
                if state == "done" {
                    print("resync \(table): done — \(rows) rows loaded in \(chunks) chunks, \(object["rows_dropped"] as? Int ?? 0) dropped as changed meanwhile, \(object["stale_deleted"] as? Int ?? 0) stale entries deleted (\(object["seconds"] as? Double ?? 0) s)")
                    break
                }
                throw Failure(message: "resync --online \(table) failed: \(object["error"] as? String ?? status.body)")
            }
        }
    }
}

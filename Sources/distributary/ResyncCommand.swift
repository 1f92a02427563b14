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
        try refuseWhileRunning(config, what: "resync")
        let logger = makeLogger(level: logLevel)
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(config: config, logger: logger, forSnapshot: true)
        } catch {
            throw Failure(message: "\(error)")
        }
        pipeline.progressOnTerminal = isatty(STDERR_FILENO) != 0
        let stop = StopSignals { pipeline.requestStop() }
        defer { stop.cancel() }
        let finished: Bool
        do {
            finished = try await pipeline.resync(tables: tables)
        } catch {
            throw Failure(message: "\(error)")
        }
        if !finished {
            throw Failure(message: "resync interrupted before it finished; run it again (a resync starts over: it must see every row to know what is stale)")
        }
    }
}

/// `resync --online`: asks the running replicator (POST /resync) and follows its progress.
enum OnlineResyncClient {
    static func run(config: Routing.PipelineConfig, tables: [String]) async throws {
        throw Failure(message: "resync --online: not built yet")
    }
}

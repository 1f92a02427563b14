import ArgumentParser
import Distributary
import Foundation
import Routing

struct Snapshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load the mapped tables' existing rows into the sinks (a consistent read at a known binlog position), then exit.",
        discussion: """
            A sink without a checkpoint gets the snapshot's position: `run` then streams from exactly there.
            A sink with one keeps it: `run` applies the log from there again on top of the loaded rows, which \
            converges to the source. Interrupted (SIGINT/SIGTERM or a failure), it resumes from its last \
            finished chunk when run again (or when `run` starts).
            """)

    @OptionGroup var options: ConfigOption
    @Option(name: .customLong("table"), help: "Only this table (db.table); repeat for several. Default: every mapped table.")
    var tables: [String] = []
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        try await loadTables(config: try options.load(), what: "snapshot", logLevel: logLevel,
                             interrupted: "snapshot interrupted; run the same command again (or `distributary run`) to resume it from its last finished chunk") {
            try await $0.snapshot(tables: tables.isEmpty ? nil : tables)
        }
    }
}

/// Runs `snapshot` or offline `resync`: refuses next to a running replicator, opens the
/// sinks, stops at a chunk boundary on SIGINT/SIGTERM; exit 1 with `interrupted` when
/// `body` did not finish.
func loadTables(config: PipelineConfig, what: String, logLevel: String, interrupted: String,
                _ body: (Pipeline) async throws -> Bool) async throws {
    try refuseWhileRunning(config, what: what)
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
        finished = try await body(pipeline)
    } catch {
        throw Failure(message: "\(error)")
    }
    if !finished { throw Failure(message: interrupted) }
}

/// SIGINT/SIGTERM call `handler` once (for commands outside a ServiceGroup).
final class StopSignals: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []

    init(_ handler: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler(handler: handler)
            source.resume()
            sources.append(source)
        }
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}

/// Loading tables while `run` streams into the same sinks would let older snapshot rows
/// overwrite newer streamed ones: refuse when the pipeline's HTTP API answers.
func refuseWhileRunning(_ config: PipelineConfig, what: String) throws {
    if let answer = HTTPGet.get(host: config.http.host, port: config.http.port, path: "/health", headers: [:]), answer.status == 200 {
        throw Failure(message: "`distributary run` of this configuration is running (it answers on http.listen \(config.http.host):\(config.http.port)); a \(what) next to it would race with its writes. Stop it first (SIGTERM), or use `distributary resync --online --table DB.TABLE`, which runs inside it")
    }
}

import ArgumentParser
import Distributary
import Foundation
import Hummingbird
import Logging
import Routing
import SearchIndex
import ServiceLifecycle

@main
struct DistributaryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "distributary",
        abstract: "Follows a MySQL/MariaDB binlog and keeps Redis caches and a full-text index in step.",
        subcommands: [Run.self, Snapshot.self, Resync.self, Verify.self, Wait.self, Status.self, Search.self, Binlog.self, ConfigCommand.self])
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The pipeline's YAML configuration file.")
    var config: String

    func load() throws -> PipelineConfig {
        guard let text = try? String(contentsOfFile: config, encoding: .utf8) else {
            throw ValidationError("cannot read the configuration file \(config)")
        }
        do {
            return try PipelineConfig.parse(yaml: text)
        } catch let error as ConfigError {
            throw Failure(message: "\(config): \(error)")
        }
    }
}

/// An error whose text is printed as is, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

func makeLogger(level: String, format: LogFormat = .text) -> Logger {
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        switch format {
        case .text:
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        case .json:
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
    return Logger(label: "distributary")
}

enum LogFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stream the binlog into the configured sinks until SIGTERM (flush, checkpoint, exit 0).")

    @OptionGroup var options: ConfigOption
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"
    @Option(help: "Log lines as human-readable text or as one JSON object per line: text, json.")
    var logFormat: LogFormat = .text

    func run() async throws {
        let config = try options.load()
        let apiKey = try Self.apiKey(config.http)
        let logger = makeLogger(level: logLevel, format: logFormat)
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(config: config, logger: logger)
        } catch {
            throw Failure(message: "\(error)")
        }
        pipeline.progressOnTerminal = logFormat == .text && isatty(STDERR_FILENO) != 0
        let store = pipeline.indexStore
        let router = HTTPAPI.router(snapshot: { store?.snapshot() })
        let maxLag = config.http.readyMaxLag
        HTTPAPI.addOperations(to: router, metrics: pipeline.metrics, readiness: { pipeline.readiness(maxLag: maxLag) },
                              status: { pipeline.statusJSON(maxLag: maxLag) },
                              resyncStart: { pipeline.startOnlineResync(table: $0) },
                              resyncStatus: { pipeline.onlineResyncStatus() },
                              waits: pipeline.waits)
        let app = Application(
            responder: HTTPAPI.responder(router, apiKey: apiKey),
            configuration: .init(address: .hostname(config.http.host, port: config.http.port), serverName: "distributary"),
            logger: logger)
        let groupConfig = ServiceGroupConfiguration(
            services: [
                .init(service: PipelineService(pipeline: pipeline, logger: logger, shutdownSeconds: config.shutdownTimeout), successTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: app),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        do {
            try await ServiceGroup(configuration: groupConfig).run()
        } catch {
            throw Failure(message: "\(error)")
        }
    }
}

extension Run {
    /// The API key from `http.api_key_env` or `http.api_key_file`, or nil (no key).
    static func apiKey(_ http: HTTPConfig) throws -> String? {
        if let name = http.apiKeyEnv {
            guard let key = ProcessInfo.processInfo.environment[name], !key.isEmpty else {
                throw Failure(message: "http.api_key_env names \(name), but that environment variable is not set or empty: export it, or remove http.api_key_env to run without an API key")
            }
            return key
        }
        if let path = http.apiKeyFile {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let key = text.split(separator: "\n").first.map({ $0.trimmingCharacters(in: .whitespaces) }), !key.isEmpty else {
                throw Failure(message: "http.api_key_file: cannot read an API key from \(path) (its first line must hold the key; check the path and permissions)")
            }
            return key
        }
        return nil
    }
}

struct Search: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Query an index of the pipeline (works while `run` is running).")

    @OptionGroup var options: ConfigOption
    @Option(help: "Index name, as tables.<db.table>.index.name in the config.")
    var index: String
    @Argument(help: "The query, e.g. 'editor', 'name:vim', '+fast -slow'.")
    var query: String
    @Option(help: "Number of hits to show.")
    var limit: Int = 10
    @Option(help: "Hits to skip.")
    var offset: Int = 0
    @Flag(help: "Print the HTTP API's JSON instead of text.")
    var json = false

    func run() throws {
        let config = try options.load()
        guard let indexConfig = config.index else {
            throw Failure(message: "\(options.config) has no `index:` section, so there is nothing to search")
        }
        let results: SearchResults
        do {
            results = try IndexStore.openReadOnly(directory: indexConfig.path).search(index: index, query: query, limit: limit, offset: offset)
        } catch {
            throw Failure(message: "\(error)")
        }
        if json {
            print(SearchJSON.render(results))
            return
        }
        print("\(results.total) hit\(results.total == 1 ? "" : "s")")
        for hit in results.hits {
            let fields = hit.fields.sorted { $0.key < $1.key }.map { name, value -> String in
                switch value {
                case .string(let s): return "\(name)=\(s)"
                case .int(let v): return "\(name)=\(v)"
                case .double(let v): return "\(name)=\(v)"
                }
            }
            print("\(hit.id)\t\(String(format: "%.3f", hit.score))\t\(fields.joined(separator: "  "))")
        }
    }
}

import ArgumentParser
import Routing

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Work with a configuration file.",
        subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a configuration without connecting to anything: every key, type and combination, ${VAR} references included. Exit 0 when valid, 1 with the key path and line otherwise.")

        @OptionGroup var options: ConfigOption

        func run() throws {
            let config = try options.load()
            print("\(options.config): valid")
            print("  pipeline  \(config.name)")
            let source = config.source.socket.map { "socket \($0)" } ?? "\(config.source.host):\(config.source.port)"
            print("  source    \(source) as \(config.source.user), server_id \(config.source.serverID), start \(Self.describe(config.source.start))")
            if let redis = config.redis {
                print("  redis     \(Self.redacted(redis.url))\(redis.cluster ? " (cluster)" : "")")
            }
            if let index = config.index { print("  index     \(index.path)") }
            print("  http      \(config.http.host):\(config.http.port)")
            for t in config.tables {
                var sinks: [String] = []
                if let r = t.redis { sinks.append("redis \(r.mode.rawValue) \(r.key.source)") }
                if let i = t.index { sinks.append("index \(i.name) (\(i.fields.count) fields)") }
                print("  table     \(t.configKey) → \(sinks.joined(separator: "; "))")
            }
        }

        static func describe(_ start: StartSpec) -> String {
            switch start {
            case .earliest: return "earliest"
            case .latest: return "latest"
            case .position(let file, let offset): return "\(file):\(offset)"
            case .gtid(let g): return "gtid \(g)"
            }
        }

        /// The URL without its password.
        static func redacted(_ url: String) -> String {
            guard let at = url.lastIndex(of: "@"), url.hasPrefix("redis://") else { return url }
            let credentials = url[url.index(url.startIndex, offsetBy: 8)..<at]
            if let colon = credentials.firstIndex(of: ":") { return "redis://\(credentials[..<colon]):***\(url[at...])" }
            return "redis://***\(url[at...])"
        }
    }
}

import BinlogCore
import Yams
#if canImport(Glibc)
import Glibc
#endif

/// The whole pipeline configuration (DESIGN.md, "Configuration"). Every key is
/// validated when the file is read; unknown keys and wrong types name their key path.
public struct PipelineConfig: Sendable {
    /// Pipeline name; namespaces checkpoints (`distributary:{name}:checkpoint`).
    public var name: String
    public var source: SourceConfig
    public var redis: RedisConfig?
    public var index: IndexConfig?
    public var http: HTTPConfig
    /// Table mappings in file order. Keys may be patterns (`shop.*`, `shard_?.orders`).
    public var tables: [TableMapping]
    /// Patterns (`db.table` with `*` and `?`) of tables that mapping patterns must not match.
    public var excludeTables: [String] = []
    /// Largest number of source rows applied in one sink batch.
    public var batchRows: Int
    /// About how much memory decoded transactions waiting for the sinks may take (bytes);
    /// a transaction too large for it is applied in pieces.
    public var memoryBudget: Int = 256 << 20
    /// Seconds a graceful stop may take before the process exits 1 (a store that does
    /// not answer must not hold it forever).
    public var shutdownTimeout: Double = 30

    /// The mapping of `db.table`, if configured: a mapping that names the table exactly,
    /// else the first pattern in file order that matches it and no `exclude_tables` pattern
    /// does (resolved to the table's own names).
    public func mapping(schema: String, table: String) -> TableMapping? {
        var firstPattern: TableMapping?
        for t in tables {
            if t.isPattern {
                if firstPattern == nil, t.matches(schema: schema, table: table) { firstPattern = t }
            } else if t.schema == schema && t.table == table {
                return t
            }
        }
        guard var found = firstPattern else { return nil }
        if excludeTables.contains(where: { TablePattern.matches($0, schema: schema, table: table) }) { return nil }
        found.schema = schema
        found.table = table
        return found
    }

    /// The concrete mappings for the tables that exist on the source (`db.table` names):
    /// every exactly named mapping, plus each existing table a pattern maps.
    public func resolve(existing: some Sequence<String>) -> [TableMapping] {
        var out = tables.filter { !$0.isPattern }
        let named = Set(out.map(\.qualifiedName))
        for name in existing.sorted() where !named.contains(name) {
            guard let dot = name.firstIndex(of: ".") else { continue }
            if let m = mapping(schema: String(name[..<dot]), table: String(name[name.index(after: dot)...])) { out.append(m) }
        }
        return out
    }
}

/// Globs as Redis MATCH writes them: `*` (any run), `?` (one character) and `\` escapes.
public enum Glob {
    public static func matches(_ pattern: String, _ text: String) -> Bool {
        let p = Array(pattern.utf8), s = Array(text.utf8)
        var pi = 0, si = 0, star = -1, mark = 0
        while si < s.count {
            if pi < p.count, p[pi] == UInt8(ascii: "\\"), pi + 1 < p.count, p[pi + 1] == s[si] {
                pi += 2; si += 1
            } else if pi < p.count, p[pi] != UInt8(ascii: "*"), p[pi] != UInt8(ascii: "\\"), p[pi] == UInt8(ascii: "?") || p[pi] == s[si] {
                pi += 1; si += 1
            } else if pi < p.count, p[pi] == UInt8(ascii: "*") {
                star = pi; mark = si; pi += 1
            } else if star >= 0 {
                pi = star + 1; mark += 1; si = mark
            } else {
                return false
            }
        }
        while pi < p.count, p[pi] == UInt8(ascii: "*") { pi += 1 }
        return pi == p.count
    }
}

/// `db.table` patterns: `*` matches any run of characters, `?` one character, each
/// within its part (the database or the table name). Case-sensitive, like table names
/// on Linux servers.
public enum TablePattern {
    public static func isPattern(_ text: String) -> Bool { text.contains("*") || text.contains("?") }

    public static func matches(_ pattern: String, schema: String, table: String) -> Bool {
        guard let dot = pattern.firstIndex(of: ".") else { return false }
        return Glob.matches(String(pattern[..<dot]), schema) && Glob.matches(String(pattern[pattern.index(after: dot)...]), table)
    }


}

public enum StartSpec: Sendable, Equatable {
    case earliest
    case latest
    case position(file: String, offset: UInt64)
    case gtid(String)
}

public enum SnapshotMode: String, Sendable, CaseIterable {
    case initial, when_needed, never
}

public struct SourceConfig: Sendable {
    public var host: String
    public var port: UInt32
    public var socket: String?
    public var user: String
    /// Name of the environment variable that holds the password.
    public var passwordEnv: String?
    /// Path of a file whose first line is the password.
    public var passwordFile: String?
    /// Our replica id; must differ from every other replica's and from the source's.
    public var serverID: UInt32
    public var start: StartSpec
    public var snapshot: SnapshotMode
    /// TLS to the source; `nil` = plain connection.
    public var tls: SourceTLSConfig? = nil
    /// Seconds; the binlog stream's read timeout is three heartbeats instead of `readTimeout`.
    public var connectTimeout: UInt32 = 10
    public var readTimeout: UInt32 = 60
    public var writeTimeout: UInt32 = 60
    /// Seconds between the server's heartbeats on an idle binlog stream.
    public var heartbeat: Double = 1
    public var reconnect = ReconnectConfig()
    /// `db.table` of the watermark table online resyncs write (DBLog watermarks).
    public var watermarkTable = "distributary.watermarks"
    /// Resync a mapped table online when the log shows DDL on it (ALTER, TRUNCATE, DROP,
    /// RENAME, CREATE OR REPLACE): rows the DDL changed without row events.
    public var resyncOnDDL = true
    /// Tables a snapshot reads at once, each on a connection of its own holding the same
    /// read view (fewer when the server cannot line the views up; see Snapshotter).
    public var snapshotThreads = 4
}

/// `source.tls`: mode `disabled | preferred | required | verify_identity` and PEM files.
public struct SourceTLSConfig: Sendable, Equatable {
    public static let modes = ["disabled", "preferred", "required", "verify_identity"]
    public var mode: String
    public var ca: String?
    public var cert: String?
    public var key: String?
}

/// `source.reconnect`: capped exponential backoff between reconnect attempts.
public struct ReconnectConfig: Sendable, Equatable {
    public var initialDelay: Double = 0.5
    public var maxDelay: Double = 30
    /// Consecutive failed attempts before giving up; `nil` = keep trying.
    public var maxAttempts: Int? = nil
}

public struct RedisConfig: Sendable {
    public var url: String
    /// A MULTI/EXEC batch holds at most this many commands (whole transactions: a bigger
    /// transaction is one batch of its own).
    public var batchCommands: Int = 2_000
    /// … and at most about this many bytes of keys and values.
    public var batchBytes: Int = 16 << 20
    /// How long the applier may wait for more transactions to fill a batch (up to
    /// `batch_rows`) once the reader has nothing ready; 0 = never wait (lowest latency).
    public var batchMilliseconds: Int = 0
    /// `redis.url` names a master of a Redis Cluster: data goes to each key's master with
    /// per-key versions, the checkpoint after it (no MULTI/EXEC across slots).
    public var cluster = false
    /// Hash updates that keep their key set only the changed fields (`Router.writeChangedFieldsOnly`),
    /// when Redis's `maxmemory-policy` keeps keys without a TTL. Only for a cache that holds
    /// every row already (loaded by a snapshot, or built from the start of the log).
    public var changedFieldsOnly = false
}

public struct IndexConfig: Sendable {
    public var path: String
}

public struct HTTPConfig: Sendable {
    public var host: String
    public var port: Int
    /// `GET /ready` answers 200 while the sinks are within this many seconds of the source.
    public var readyMaxLag: Double = 10
    /// Where the API key comes from (an environment variable's name, or a file whose first
    /// line is the key); with neither, the API is open (it listens on loopback by default).
    public var apiKeyEnv: String?
    public var apiKeyFile: String?

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

public enum RedisMode: String, Sendable, CaseIterable {
    case hash, json, invalidate
}

public struct RedisTableConfig: Sendable {
    public var key: KeyTemplate
    public var mode: RedisMode
    /// Projected columns; `nil` means all columns.
    public var columns: [String]?
    /// The hash field or JSON member name of each projected column (renaming); `nil`
    /// means the column names.
    public var fieldNames: [String]?
    /// Seconds after which written entries expire; `nil` = never.
    public var ttl: Int?
    /// With all columns (`columns` nil): the ones left out (secrets, large blobs).
    public var excludeColumns: [String] = []

    public init(key: KeyTemplate, mode: RedisMode, columns: [String]? = nil, fieldNames: [String]? = nil, ttl: Int? = nil,
                excludeColumns: [String] = []) {
        self.key = key
        self.mode = mode
        self.columns = columns
        self.fieldNames = fieldNames
        self.ttl = ttl
        self.excludeColumns = excludeColumns
    }
}

public struct IndexTableConfig: Sendable {
    public var name: String
    /// Indexed fields (column name → kind), in file order.
    public var fields: [(name: String, kind: IndexFieldKind)]
    /// Columns stored and returned with hits.
    public var stored: [String]
    /// Text fields given optional analysis steps in the long form
    /// `{type: text, stem: english, stop_words: english}`.
    public var analysis: [String: IndexTextAnalysis] = [:]
}

/// A language of the index's stemmers and stop word lists, as the config names it.
public enum IndexLanguage: String, Sendable, CaseIterable {
    case english
}

/// Optional analysis steps of a text field: stop word removal and stemming.
public struct IndexTextAnalysis: Sendable, Equatable {
    public var stem: IndexLanguage?
    public var stopWords: IndexLanguage?

    public init(stem: IndexLanguage? = nil, stopWords: IndexLanguage? = nil) {
        self.stem = stem
        self.stopWords = stopWords
    }
}

public struct TableMapping: Sendable {
    public var schema: String
    public var table: String
    public var redis: RedisTableConfig?
    public var index: IndexTableConfig?
    /// Line of the mapping in the YAML file.
    public var line: Int?
    /// The key as the config writes it: `db.table`, or a pattern such as `shop.*`
    /// (a mapping resolved for one table keeps its pattern here).
    public var configKey: String
    /// For a table without a primary key: the NOT NULL unique key snapshots page by.
    public var uniqueKey: [String]?

    public init(schema: String, table: String, redis: RedisTableConfig? = nil, index: IndexTableConfig? = nil, line: Int? = nil,
                configKey: String? = nil) {
        self.schema = schema
        self.table = table
        self.redis = redis
        self.index = index
        self.line = line
        self.configKey = configKey ?? "\(schema).\(table)"
    }

    public var qualifiedName: String { "\(schema).\(table)" }
    /// Config key path of this mapping.
    public var keyPath: String { "tables.\(configKey)" }
    /// Whether the config key is a pattern (and this mapping not yet resolved to a table).
    public var isPattern: Bool { TablePattern.isPattern(qualifiedName) }

    public func matches(schema: String, table: String) -> Bool {
        isPattern ? TablePattern.matches(qualifiedName, schema: schema, table: table)
            : self.schema == schema && self.table == table
    }
}

extension PipelineConfig {
    /// Reads and validates a YAML configuration. `${NAME}` and `${NAME:-default}` in
    /// values are read from `environment` (the process environment when nil).
    public static func parse(yaml: String, environment: ((String) -> String?)? = nil) throws -> PipelineConfig {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError("", "not valid YAML: \(error)")
        }
        guard let root = node else { throw ConfigError("", "the configuration is empty; see deploy/distributary.yml for an example") }
        var r = Reader(environment: environment ?? { name in getenv(name).map { String(cString: $0) } })
        return try r.config(root)
    }
}

/// Walks the YAML tree, remembering key paths for errors.
private struct Reader {
    let environment: (String) -> String?

    /// An index mapping's fields as comparable text: name, kind and analysis steps.
    static func describeFields(_ index: IndexTableConfig) -> [String] {
        index.fields.map { field in
            let steps = index.analysis[field.name].map { " stem=\($0.stem?.rawValue ?? "-") stop_words=\($0.stopWords?.rawValue ?? "-")" } ?? ""
            return "\(field.name):\(field.kind)\(steps)"
        }
    }

    func line(_ node: Node) -> Int? { node.mark?.line }

    func mapping(_ node: Node, _ path: String, allowed: [String], required: [String] = []) throws -> [String: Node] {
        guard case .mapping(let m) = node else {
            throw ConfigError(path, line: line(node), "expected a mapping of keys (\(allowed.joined(separator: ", ")))")
        }
        var out: [String: Node] = [:]
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw ConfigError(path, line: line(k), "keys must be plain strings") }
            let key = ks.string
            let child = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let hint = allowed.first { $0.lowercased() == key.lowercased() || $0.replacingOccurrences(of: "_", with: "") == key.replacingOccurrences(of: "_", with: "").replacingOccurrences(of: "-", with: "") }
                throw ConfigError(child, line: line(k), "unknown key `\(key)`" + (hint.map { "; did you mean `\($0)`?" } ?? "") + " (allowed here: \(allowed.joined(separator: ", ")))")
            }
            guard out[key] == nil else { throw ConfigError(child, line: line(k), "key `\(key)` appears twice") }
            out[key] = v
        }
        for key in required where out[key] == nil {
            let child = path.isEmpty ? key : "\(path).\(key)"
            throw ConfigError(child, line: line(node), "required key `\(key)` is missing")
        }
        return out
    }

    /// A scalar's text with `${NAME}` / `${NAME:-default}` replaced from the environment
    /// (`$$` is a literal `$`); nil for a mapping or a list.
    func scalar(_ node: Node, _ path: String) throws -> String? {
        guard case .scalar(let s) = node else { return nil }
        let text = s.string
        guard text.contains("$") else { return text }
        var out = ""
        var rest = Substring(text)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[..<dollar]
            let after = rest[rest.index(after: dollar)...]
            if after.first == "$" {
                out += "$"
                rest = after.dropFirst()
            } else if after.first == "{", let close = after.firstIndex(of: "}") {
                let inner = after[after.index(after: after.startIndex)..<close]
                let name: Substring, fallback: Substring?
                if let sep = inner.range(of: ":-") {
                    name = inner[..<sep.lowerBound]
                    fallback = inner[sep.upperBound...]
                } else {
                    name = inner
                    fallback = nil
                }
                guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                    throw ConfigError(path, line: line(node), "`${\(inner)}` is not a variable reference (use ${NAME} or ${NAME:-default}; $$ for a literal $)")
                }
                if let value = environment(String(name)) {
                    out += value
                } else if let fallback {
                    out += fallback
                } else {
                    throw ConfigError(path, line: line(node), "environment variable \(name) is not set (export it, or give a default: ${\(name):-value})")
                }
                rest = after[after.index(after: close)...]
            } else {
                out += "$"
                rest = after
            }
        }
        return out + rest
    }

    func string(_ node: Node, _ path: String) throws -> String {
        guard let s = try scalar(node, path), !s.isEmpty else {
            throw ConfigError(path, line: line(node), "expected a non-empty string")
        }
        return s
    }

    func boolean(_ node: Node, _ path: String) throws -> Bool {
        guard let s = try scalar(node, path), let v = Bool(s.lowercased()) else {
            throw ConfigError(path, line: line(node), "expected true or false")
        }
        return v
    }

    func integer<T: FixedWidthInteger>(_ node: Node, _ path: String, _ type: T.Type, min: T = 0, max: T = T.max) throws -> T {
        guard let s = try scalar(node, path), let v = T(s), v >= min, v <= max else {
            throw ConfigError(path, line: line(node), "expected a whole number from \(min) to \(max), got `\(node.string ?? "?")`")
        }
        return v
    }

    func seconds(_ node: Node, _ path: String, min: Double, max: Double) throws -> Double {
        guard let s = try scalar(node, path), let v = Double(s), v >= min, v <= max else {
            throw ConfigError(path, line: line(node), "expected a number of seconds from \(min) to \(max), got `\(node.string ?? "?")`")
        }
        return v
    }

    func stringList(_ node: Node, _ path: String) throws -> [String] {
        guard case .sequence(let seq) = node else {
            throw ConfigError(path, line: line(node), "expected a list such as [a, b]")
        }
        var out: [String] = []
        for (i, item) in seq.enumerated() {
            let s = try string(item, "\(path)[\(i)]")
            if out.contains(s) { throw ConfigError("\(path)[\(i)]", line: line(item), "`\(s)` is listed twice") }
            out.append(s)
        }
        return out
    }

    func oneOf<E: RawRepresentable & CaseIterable>(_ node: Node, _ path: String, _ type: E.Type) throws -> E where E.RawValue == String {
        let s = try string(node, path)
        guard let v = E(rawValue: s) else {
            throw ConfigError(path, line: line(node), "unknown value `\(s)`; expected one of \(E.allCases.map { $0.rawValue }.joined(separator: ", "))")
        }
        return v
    }

    mutating func config(_ root: Node) throws -> PipelineConfig {
        let top = try mapping(root, "", allowed: ["name", "source", "redis", "index", "http", "tables", "exclude_tables", "batch_rows", "memory_budget", "shutdown_timeout"],
                              required: ["name", "source", "tables"])
        let name = try string(top["name"]!, "name")
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else {
            throw ConfigError("name", line: line(top["name"]!), "`\(name)` may hold only letters, digits, `_`, `-` and `.` (it is part of Redis keys)")
        }
        let source = try sourceConfig(top["source"]!)
        var redis: RedisConfig?
        if let node = top["redis"] {
            let m = try mapping(node, "redis", allowed: ["url", "batch", "cluster", "changed_fields_only"], required: ["url"])
            let url = try string(m["url"]!, "redis.url")
            guard url.hasPrefix("redis://") else {
                throw ConfigError("redis.url", line: line(m["url"]!), "`\(url)` is not a redis:// URL (redis://[user:password@]host:port/db)")
            }
            var config = RedisConfig(url: url)
            if let c = m["changed_fields_only"] { config.changedFieldsOnly = try boolean(c, "redis.changed_fields_only") }
            if let c = m["cluster"] {
                config.cluster = try boolean(c, "redis.cluster")
                let hostPart = url[(url.lastIndex(of: "@").map { url.index(after: $0) } ?? url.index(url.startIndex, offsetBy: 8))...]
                if config.cluster, let slash = hostPart.firstIndex(of: "/"),
                   let db = Int(hostPart[hostPart.index(after: slash)...]), db != 0 {
                    throw ConfigError("redis.url", line: line(m["url"]!), "Redis Cluster has only database 0, but redis.url selects \(db): drop the /\(db)")
                }
            }
            if let b = m["batch"] {
                let bm = try mapping(b, "redis.batch", allowed: ["commands", "bytes", "ms"])
                if let n = bm["ms"] { config.batchMilliseconds = try integer(n, "redis.batch.ms", Int.self, min: 0) }
                if let n = bm["commands"] { config.batchCommands = try integer(n, "redis.batch.commands", Int.self, min: 1) }
                if let n = bm["bytes"] { config.batchBytes = try integer(n, "redis.batch.bytes", Int.self, min: 1024) }
            }
            redis = config
        }
        var index: IndexConfig?
        if let node = top["index"] {
            let m = try mapping(node, "index", allowed: ["path"], required: ["path"])
            index = IndexConfig(path: try string(m["path"]!, "index.path"))
        }
        var http = HTTPConfig(host: "127.0.0.1", port: 7700)
        if let node = top["http"] {
            let m = try mapping(node, "http", allowed: ["listen", "ready_max_lag", "api_key_env", "api_key_file"])
            if let l = m["listen"] {
                let listen = try string(l, "http.listen")
                guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
                    throw ConfigError("http.listen", line: line(l), "`\(listen)` is not host:port (e.g. 127.0.0.1:7700)")
                }
                http = HTTPConfig(host: String(listen[..<colon]), port: port)
            }
            if let n = m["ready_max_lag"] { http.readyMaxLag = try seconds(n, "http.ready_max_lag", min: 0.1, max: 86400) }
            if let n = m["api_key_env"] { http.apiKeyEnv = try string(n, "http.api_key_env") }
            if let n = m["api_key_file"] { http.apiKeyFile = try string(n, "http.api_key_file") }
            if http.apiKeyEnv != nil, http.apiKeyFile != nil {
                throw ConfigError("http.api_key_file", line: line(node), "give the API key either through api_key_env or api_key_file, not both")
            }
        }
        var batchRows = 5000
        if let node = top["batch_rows"] { batchRows = try integer(node, "batch_rows", Int.self, min: 1) }
        var memoryBudget = 256 << 20
        if let node = top["memory_budget"] { memoryBudget = try integer(node, "memory_budget", Int.self, min: 16 << 20) }

        guard case .mapping(let tablesNode) = top["tables"]! else {
            throw ConfigError("tables", line: line(top["tables"]!), "expected a mapping of `db.table:` entries")
        }
        var tables: [TableMapping] = []
        for (k, v) in tablesNode {
            let qualified = try string(k, "tables")
            let path = "tables.\(qualified)"
            let pieces = qualified.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
                throw ConfigError(path, line: line(k), "table names are written `database.table` (or a pattern such as `shop.*`), got `\(qualified)`")
            }
            tables.append(try tableMapping(v, schema: String(pieces[0]), table: String(pieces[1]), path: path))
        }
        if tables.isEmpty { throw ConfigError("tables", line: line(top["tables"]!), "no table is mapped; add at least one `db.table:` entry") }
        var excludeTables: [String] = []
        if let node = top["exclude_tables"] {
            excludeTables = try stringList(node, "exclude_tables")
            for (i, pattern) in excludeTables.enumerated() {
                let pieces = pattern.split(separator: ".", omittingEmptySubsequences: false)
                guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else {
                    throw ConfigError("exclude_tables[\(i)]", line: line(node), "table patterns are written `database.table` with `*` and `?`, got `\(pattern)`")
                }
                if let named = tables.first(where: { !$0.isPattern && TablePattern.matches(pattern, schema: $0.schema, table: $0.table) }) {
                    throw ConfigError("exclude_tables[\(i)]", line: line(node), "`\(pattern)` excludes \(named.qualifiedName), which `tables:` maps by name; remove one of the two (exclusions apply to the tables patterns would map)")
                }
            }
            if !tables.contains(where: \.isPattern) {
                throw ConfigError("exclude_tables", line: line(node), "no `tables:` key is a pattern, so there is nothing to exclude from; remove exclude_tables or map a pattern such as `shop.*`")
            }
        }
        if redis == nil, let t = tables.first(where: { $0.redis != nil }) {
            throw ConfigError("\(t.keyPath).redis", line: t.line, "the table maps to Redis but the config has no top-level `redis:` section with a `url`")
        }
        if index == nil, let t = tables.first(where: { $0.index != nil }) {
            throw ConfigError("\(t.keyPath).index", line: t.line, "the table maps to an index but the config has no top-level `index:` section with a `path`")
        }
        var fieldsByIndex: [String: (String, [String])] = [:]
        for t in tables {
            guard let ix = t.index else { continue }
            if let (other, fields) = fieldsByIndex[ix.name], fields != Self.describeFields(ix) {
                throw ConfigError("\(t.keyPath).index.fields", line: t.line, "index `\(ix.name)` is also fed by \(other) with different fields; tables sharing an index must declare the same fields")
            }
            fieldsByIndex[ix.name] = (t.qualifiedName, Self.describeFields(ix))
        }
        var config = PipelineConfig(name: name, source: source, redis: redis, index: index, http: http, tables: tables, batchRows: batchRows)
        config.memoryBudget = memoryBudget
        config.excludeTables = excludeTables
        if let node = top["shutdown_timeout"] { config.shutdownTimeout = try seconds(node, "shutdown_timeout", min: 1, max: 3600) }
        return config
    }

    func sourceConfig(_ node: Node) throws -> SourceConfig {
        let m = try mapping(node, "source",
                            allowed: ["host", "port", "socket", "user", "password_env", "password_file", "server_id", "start", "snapshot",
                                      "tls", "connect_timeout", "read_timeout", "write_timeout", "heartbeat", "reconnect", "watermark_table",
                                      "resync_on_ddl", "snapshot_threads"],
                            required: ["user", "server_id"])
        if m["password_env"] != nil && m["password_file"] != nil {
            throw ConfigError("source.password_file", line: line(m["password_file"]!), "set either password_env or password_file, not both")
        }
        var start = StartSpec.latest
        if let s = m["start"] {
            switch s {
            case .scalar(let v) where v.string == "earliest": start = .earliest
            case .scalar(let v) where v.string == "latest": start = .latest
            case .mapping:
                let sm = try mapping(s, "source.start", allowed: ["file", "pos", "gtid"])
                if let g = sm["gtid"] {
                    if sm["file"] != nil || sm["pos"] != nil {
                        throw ConfigError("source.start", line: line(s), "give either {gtid: …} or {file: …, pos: …}, not both")
                    }
                    start = .gtid(try string(g, "source.start.gtid"))
                } else {
                    guard let f = sm["file"], let p = sm["pos"] else {
                        throw ConfigError("source.start", line: line(s), "a position start needs both `file` and `pos`, e.g. {file: binlog.000002, pos: 4}")
                    }
                    let pos = try integer(p, "source.start.pos", UInt64.self, min: 4)
                    start = .position(file: try string(f, "source.start.file"), offset: pos)
                }
            default:
                throw ConfigError("source.start", line: line(s), "expected earliest, latest, {file: NAME, pos: N} or {gtid: \"D-S-N\"}")
            }
        }
        var source = SourceConfig(
            host: try m["host"].map { try string($0, "source.host") } ?? "127.0.0.1",
            port: try m["port"].map { try integer($0, "source.port", UInt32.self, min: 1) } ?? 3306,
            socket: try m["socket"].map { try string($0, "source.socket") },
            user: try string(m["user"]!, "source.user"),
            passwordEnv: try m["password_env"].map { try string($0, "source.password_env") },
            passwordFile: try m["password_file"].map { try string($0, "source.password_file") },
            serverID: try integer(m["server_id"]!, "source.server_id", UInt32.self, min: 1),
            start: start,
            snapshot: try m["snapshot"].map { try oneOf($0, "source.snapshot", SnapshotMode.self) } ?? .never)
        if let w = m["watermark_table"] {
            let name = try string(w, "source.watermark_table")
            let pieces = name.split(separator: ".", omittingEmptySubsequences: false)
            guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty, !TablePattern.isPattern(name) else {
                throw ConfigError("source.watermark_table", line: line(w), "expected `database.table`, got `\(name)`")
            }
            source.watermarkTable = name
        }
        if let r = m["resync_on_ddl"] { source.resyncOnDDL = try boolean(r, "source.resync_on_ddl") }
        if let t = m["snapshot_threads"] { source.snapshotThreads = try integer(t, "source.snapshot_threads", Int.self, min: 1, max: 64) }
        if let t = m["tls"] {
            let tm = try mapping(t, "source.tls", allowed: ["mode", "ca", "cert", "key"], required: ["mode"])
            let mode = try string(tm["mode"]!, "source.tls.mode")
            guard SourceTLSConfig.modes.contains(mode) else {
                throw ConfigError("source.tls.mode", line: line(tm["mode"]!), "unknown value `\(mode)`; expected one of \(SourceTLSConfig.modes.joined(separator: ", "))")
            }
            let tls = SourceTLSConfig(mode: mode, ca: try tm["ca"].map { try string($0, "source.tls.ca") },
                                      cert: try tm["cert"].map { try string($0, "source.tls.cert") },
                                      key: try tm["key"].map { try string($0, "source.tls.key") })
            if mode == "verify_identity" && tls.ca == nil {
                throw ConfigError("source.tls.ca", line: line(t), "tls mode verify_identity checks the server certificate against a CA: give source.tls.ca (a PEM file)")
            }
            if (tls.cert == nil) != (tls.key == nil) {
                throw ConfigError(tls.cert == nil ? "source.tls.cert" : "source.tls.key", line: line(t), "a client certificate needs both source.tls.cert and source.tls.key")
            }
            source.tls = tls
        }
        if let n = m["connect_timeout"] { source.connectTimeout = try integer(n, "source.connect_timeout", UInt32.self, min: 1) }
        if let n = m["read_timeout"] { source.readTimeout = try integer(n, "source.read_timeout", UInt32.self, min: 1) }
        if let n = m["write_timeout"] { source.writeTimeout = try integer(n, "source.write_timeout", UInt32.self, min: 1) }
        if let n = m["heartbeat"] { source.heartbeat = try seconds(n, "source.heartbeat", min: 0.1, max: 3600) }
        if let r = m["reconnect"] {
            let rm = try mapping(r, "source.reconnect", allowed: ["initial_delay", "max_delay", "max_attempts"])
            if let n = rm["initial_delay"] { source.reconnect.initialDelay = try seconds(n, "source.reconnect.initial_delay", min: 0.01, max: 3600) }
            if let n = rm["max_delay"] { source.reconnect.maxDelay = try seconds(n, "source.reconnect.max_delay", min: 0.01, max: 86400) }
            if let n = rm["max_attempts"] { source.reconnect.maxAttempts = try integer(n, "source.reconnect.max_attempts", Int.self, min: 1) }
            if source.reconnect.maxDelay < source.reconnect.initialDelay {
                throw ConfigError("source.reconnect.max_delay", line: line(r), "max_delay (\(source.reconnect.maxDelay) s) is below initial_delay (\(source.reconnect.initialDelay) s)")
            }
        }
        return source
    }

    func tableMapping(_ node: Node, schema: String, table: String, path: String) throws -> TableMapping {
        let m = try mapping(node, path, allowed: ["redis", "index", "unique_key"])
        if m["redis"] == nil && m["index"] == nil { throw ConfigError(path, line: line(node), "the table maps to nothing; give it a `redis:` and/or an `index:` section") }
        var redis: RedisTableConfig?
        if let r = m["redis"] {
            let rp = "\(path).redis"
            let rm = try mapping(r, rp, allowed: ["key", "mode", "columns", "exclude_columns", "ttl"], required: ["key"])
            var columns: [String]?
            var fieldNames: [String]?
            if let c = rm["columns"] {
                // A list keeps the column names; a mapping `column: field` renames.
                if case .mapping(let cm) = c {
                    var cols: [String] = [], names: [String] = []
                    for (k, v) in cm {
                        cols.append(try string(k, "\(rp).columns"))
                        names.append(try string(v, "\(rp).columns.\(cols.last!)"))
                    }
                    guard !cols.isEmpty else { throw ConfigError("\(rp).columns", line: line(c), "expected at least one column") }
                    if let dup = Dictionary(grouping: names, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
                        throw ConfigError("\(rp).columns", line: line(c), "two columns are renamed to `\(dup)`; field names must differ")
                    }
                    columns = cols
                    fieldNames = names
                } else {
                    columns = try stringList(c, "\(rp).columns")
                }
            }
            var exclude: [String] = []
            if let e = rm["exclude_columns"] {
                guard columns == nil else {
                    throw ConfigError("\(rp).exclude_columns", line: line(e), "give either `columns` (the ones to write) or `exclude_columns` (all but these), not both")
                }
                exclude = try stringList(e, "\(rp).exclude_columns")
            }
            redis = RedisTableConfig(
                key: try KeyTemplate(parsing: try string(rm["key"]!, "\(rp).key"), keyPath: "\(rp).key", line: line(rm["key"]!)),
                mode: try rm["mode"].map { try oneOf($0, "\(rp).mode", RedisMode.self) } ?? .hash,
                columns: columns, fieldNames: fieldNames,
                ttl: try rm["ttl"].map { try integer($0, "\(rp).ttl", Int.self, min: 1) },
                excludeColumns: exclude)
        }
        var index: IndexTableConfig?
        if let i = m["index"] {
            let ip = "\(path).index"
            let im = try mapping(i, ip, allowed: ["name", "fields", "stored"], required: ["name", "fields"])
            let name = try string(im["name"]!, "\(ip).name")
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw ConfigError("\(ip).name", line: line(im["name"]!), "index names may hold only letters, digits, `_` and `-`")
            }
            guard case .mapping(let fm) = im["fields"]!, !fm.isEmpty else {
                throw ConfigError("\(ip).fields", line: line(im["fields"]!), "expected a mapping of column: text|keyword|number (or {type: text, stem: english, stop_words: english})")
            }
            var fields: [(name: String, kind: IndexFieldKind)] = []
            var analysis: [String: IndexTextAnalysis] = [:]
            for (k, v) in fm {
                let column = try string(k, "\(ip).fields")
                let fp = "\(ip).fields.\(column)"
                guard case .mapping = v else {
                    fields.append((column, try oneOf(v, fp, IndexFieldKind.self)))
                    continue
                }
                let am = try mapping(v, fp, allowed: ["type", "stem", "stop_words"], required: ["type"])
                let kind = try oneOf(am["type"]!, "\(fp).type", IndexFieldKind.self)
                let steps = IndexTextAnalysis(
                    stem: try am["stem"].map { try oneOf($0, "\(fp).stem", IndexLanguage.self) },
                    stopWords: try am["stop_words"].map { try oneOf($0, "\(fp).stop_words", IndexLanguage.self) })
                if steps != IndexTextAnalysis() {
                    guard kind == .text else {
                        throw ConfigError(fp, line: line(v), "`stem` and `stop_words` apply to text fields only; make `\(column)` a text field or remove them")
                    }
                    analysis[column] = steps
                }
                fields.append((column, kind))
            }
            index = IndexTableConfig(name: name, fields: fields,
                                     stored: try im["stored"].map { try stringList($0, "\(ip).stored") } ?? [],
                                     analysis: analysis)
        }
        var mapping = TableMapping(schema: schema, table: table, redis: redis, index: index, line: line(node))
        if let u = m["unique_key"] {
            let columns = try stringList(u, "\(path).unique_key")
            guard !columns.isEmpty else { throw ConfigError("\(path).unique_key", line: line(u), "expected the columns of a NOT NULL unique key, e.g. [sku]") }
            mapping.uniqueKey = columns
        }
        return mapping
    }
}

extension PipelineConfig {
    /// Checks every mapping against the source's tables: the table exists, every
    /// column named by a key template, projection, index field or stored list exists,
    /// and indexed tables have a primary key. `schemas` is keyed by `db.table`.
    /// Pattern mappings are checked for each existing table they map.
    public func validate(against schemas: [String: TableSchema]) throws {
        for t in resolve(existing: schemas.keys) {
            guard let schema = schemas[t.qualifiedName] else {
                throw ConfigError(t.keyPath, line: t.line, "table \(t.qualifiedName) does not exist on the source (check the database and table names)")
            }
            func check(_ column: String, _ path: String) throws {
                guard schema.columns.contains(column) else {
                    throw ConfigError(path, line: t.line, "column `\(column)` does not exist in \(t.qualifiedName) (its columns: \(schema.columns.joined(separator: ", ")))")
                }
            }
            if let r = t.redis {
                for c in r.key.columns { try check(c, "\(t.keyPath).redis.key") }
                for (i, c) in (r.columns ?? []).enumerated() { try check(c, "\(t.keyPath).redis.columns[\(i)]") }
                for (i, c) in r.excludeColumns.enumerated() { try check(c, "\(t.keyPath).redis.exclude_columns[\(i)]") }
            }
            for (i, c) in (t.uniqueKey ?? []).enumerated() { try check(c, "\(t.keyPath).unique_key[\(i)]") }
            if let ix = t.index {
                for f in ix.fields { try check(f.name, "\(t.keyPath).index.fields.\(f.name)") }
                for (i, c) in ix.stored.enumerated() { try check(c, "\(t.keyPath).index.stored[\(i)]") }
                if schema.primaryKey.isEmpty {
                    throw ConfigError("\(t.keyPath).index", line: t.line, "\(t.qualifiedName) has no primary key, so its documents have no id; add a PRIMARY KEY to the table")
                }
            }
        }
    }
}

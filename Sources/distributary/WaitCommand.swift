import ArgumentParser
import Foundation

struct Wait: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Wait until the sinks hold a transaction (read-your-writes for scripts); asks the running replicator.",
        discussion: """
            MariaDB: pass the GTID your session committed (`SELECT @@last_gtid` right after COMMIT). \
            MySQL: the GTID (`SELECT @@gtid_executed` / session_track_gtids) or a file and position \
            (`SHOW MASTER STATUS` after COMMIT). Exit 0 once every sink (or --sink) holds it, 1 at the \
            timeout, 2 when the replicator cannot be asked.
            """)

    @OptionGroup var options: ConfigOption
    @Option(help: "The transaction's GTID (MariaDB domain-server-seq, or MySQL uuid:n).")
    var gtid: String?
    @Option(help: "A binlog file name (with --pos), instead of --gtid.")
    var file: String?
    @Option(help: "A byte offset in --file.")
    var pos: UInt64?
    @Option(help: "Only this sink: redis or index. Default: every sink.")
    var sink: String?
    @Option(help: "How long to wait, in milliseconds.")
    var timeoutMs: Int = 5000

    func validate() throws {
        if (gtid == nil) == (file == nil) { throw ValidationError("give --gtid, or --file and --pos") }
        if file != nil && pos == nil { throw ValidationError("--file needs --pos") }
    }

    func run() throws {
        let config = try options.load()
        var headers: [String: String] = [:]
        if let key = try Run.apiKey(config.http) { headers["Authorization"] = "Bearer \(key)" }
        func q(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? s }
        var path = "/wait?timeout_ms=\(timeoutMs)"
        if let gtid { path += "&gtid=\(q(gtid))" }
        if let file, let pos { path += "&file=\(q(file))&pos=\(pos)" }
        if let sink { path += "&sink=\(q(sink))" }
        // The HTTP client's socket timeout must outlast the wait.
        guard let answer = HTTPGet.get(host: config.http.host, port: config.http.port, path: path, headers: headers,
                                       timeoutSeconds: timeoutMs / 1000 + 5) else {
            FileHandle.standardError.write(Data("wait: the replicator does not answer on http.listen \(config.http.host):\(config.http.port); is `distributary run` running?\n".utf8))
            throw ExitCode(2)
        }
        print(answer.body)
        switch answer.status {
        case 200: return
        case 408: throw ExitCode(1)
        default: throw ExitCode(2)
        }
    }
}

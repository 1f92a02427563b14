import ArgumentParser
import Distributary
import Foundation
import Routing
#if canImport(Glibc)
import Glibc
#endif

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the source's head, each sink's checkpoint and lag, and the running replicator's state and last error.")

    @OptionGroup var options: ConfigOption
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        let config = try options.load()
        let report = StatusReport.gather(config: config)
        // The running process (if any) answers GET /status on http.listen.
        var headers: [String: String] = [:]
        if let key = (try? Run.apiKey(config.http)) ?? nil { headers["Authorization"] = "Bearer \(key)" }
        let live = HTTPGet.get(host: config.http.host, port: config.http.port, path: "/status", headers: headers)
        if json {
            var out = report.json
            out.removeLast()
            out += ",\"process\":"
            if let live, live.status == 200 { out += live.body } else { out += "{\"running\":false}" }
            print(out + "}")
        } else {
            print(report.text)
            if let live, live.status == 200,
               let object = try? JSONSerialization.jsonObject(with: Data(live.body.utf8)) as? [String: Any] {
                var line = "process   running on \(config.http.host):\(config.http.port): \(object["detail"] as? String ?? "?")"
                if let lag = object["lag_seconds"] as? Double, lag > 0 { line += String(format: ", lag %.1f s", lag) }
                print(line)
                if let error = object["last_error"] as? [String: Any] {
                    print("          last error at \(error["time"] as? String ?? "?"): \(error["message"] as? String ?? "?")")
                } else {
                    print("          last error: none")
                }
            } else if let live, live.status == 401 {
                print("process   running on \(config.http.host):\(config.http.port), but the API key was refused (http.api_key_env / http.api_key_file)")
            } else {
                print("process   not running (nothing answers on \(config.http.host):\(config.http.port))")
            }
        }
        if report.sourceError != nil || report.sinks.contains(where: { $0.checkpoint == nil && $0.error != nil && !$0.error!.hasPrefix("no checkpoint") }) {
            throw ExitCode(1)
        }
    }
}

/// A minimal blocking HTTP/1.1 GET over a loopback TCP socket (2 s timeouts).
enum HTTPGet {
    static func get(host: String, port: Int, path: String, headers: [String: String], method: String = "GET",
                    timeoutSeconds: Int = 2) -> (status: Int, body: String)? {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var info: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &info) == 0, let first = info else { return nil }
        defer { freeaddrinfo(info) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else { return nil }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nConnection: close\r\n"
        for (k, v) in headers { request += "\(k): \(v)\r\n" }
        if method != "GET" { request += "Content-Length: 0\r\n" }
        request += "\r\n"
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { return nil }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response.append(contentsOf: buffer[0..<n])
        }
        let text = String(decoding: response, as: UTF8.self)
        guard let headerEnd = text.range(of: "\r\n\r\n") else { return nil }
        let statusLine = text[..<headerEnd.lowerBound].split(separator: "\r\n").first ?? ""
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var body = String(text[headerEnd.upperBound...])
        if text[..<headerEnd.lowerBound].lowercased().contains("transfer-encoding: chunked") {
            // De-chunk: size line, data, CRLF … 0.
            var out = "", rest = Substring(body)
            while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
                let start = lineEnd.upperBound
                let utf8 = rest.utf8
                guard let end = utf8.index(start, offsetBy: size, limitedBy: utf8.endIndex) else { break }
                out += String(rest[start..<end])
                rest = rest[end...].dropFirst(2)
            }
            body = out
        }
        return (status, body)
    }
}

import Foundation
import XCTest

/// The throwaway servers of scripts/servers.sh, as its `env` command exports them.
/// Tests that need a server skip visibly when these variables are absent.
enum ServerEnvironment {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    static func redisPort() throws -> Int32 {
        guard let p = env["DST_REDIS_PORT"].flatMap({ Int32($0) }) else {
            throw XCTSkip("DST_REDIS_PORT is not set: start the servers with `scripts/servers.sh start` and `eval \"$(scripts/servers.sh env)\"`")
        }
        return p
    }

    /// Ports of the 3-master cluster of scripts/redis-cluster.sh.
    static func clusterPorts() throws -> [Int32] {
        guard let ports = env["DST_REDIS_CLUSTER_PORTS"]?.split(separator: ",").compactMap({ Int32($0) }), ports.count == 3 else {
            throw XCTSkip("DST_REDIS_CLUSTER_PORTS is not set: start a cluster with `scripts/redis-cluster.sh start` and `eval \"$(scripts/redis-cluster.sh env)\"`")
        }
        return ports
    }

    /// redis-cli on one cluster node (`-c` follows redirections).
    @discardableResult
    static func clusterCLI(_ port: Int32, follow: Bool = true, _ args: [String]) throws -> String {
        try run(["redis-cli", "-h", "127.0.0.1", "-p", String(port), "--raw"] + (follow ? ["-c"] : []) + args)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static func mariadb() throws -> (port: UInt32, socket: String, user: String, password: String) {
        guard let port = env["DST_MARIADB_PORT"].flatMap({ UInt32($0) }), let socket = env["DST_MARIADB_SOCKET"] else {
            throw XCTSkip("DST_MARIADB_PORT is not set: start the servers with `scripts/servers.sh start` and `eval \"$(scripts/servers.sh env)\"`")
        }
        return (port, socket, env["DST_REPL_USER"] ?? "distributary", env["DST_REPL_PASSWORD"] ?? "distributary")
    }

    /// Runs a command-line client and returns its standard output.
    @discardableResult
    static func run(_ arguments: [String], input: String? = nil) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        let inPipe = Pipe()
        if input != nil { process.standardInput = inPipe }
        try process.run()
        if let input {
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw NSError(domain: "client", code: Int(process.terminationStatus),
                          userInfo: [NSLocalizedDescriptionKey: "\(arguments.joined(separator: " ")) exited \(process.terminationStatus)"])
        }
        return String(decoding: data, as: UTF8.self)
    }

    @discardableResult
    static func sql(_ statement: String) throws -> String {
        let db = try mariadb()
        return try run(["mariadb", "--no-defaults", "--socket=\(db.socket)", "-uroot", "-N", "-B", "-e", statement])
    }

    @discardableResult
    static func redisCLI(_ args: String...) throws -> String {
        let port = try redisPort()
        return try run(["redis-cli", "-h", "127.0.0.1", "-p", String(port), "--raw"] + args)
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

import Logging
import RedisSink
import Routing
import XCTest

/// RedisSink against a real Redis; results read back with redis-cli.
final class RedisSinkTests: XCTestCase {
    func makeSink(_ name: String) throws -> RedisSink {
        let port = try ServerEnvironment.redisPort()
        try ServerEnvironment.redisCLI("DEL", "distributary:\(name):checkpoint", "t:\(name):1", "t:\(name):2", "t:\(name):3")
        return try RedisSink(url: RedisURL(port: port), pipelineName: name)
    }

    func testBatchWritesDataAndCheckpointTogether() throws {
        let sink = try makeSink("batch")
        XCTAssertNil(try sink.readCheckpoint())
        try sink.apply([
            .hash(key: "t:batch:1", fields: [("name", "héllo wörld"), ("gone", "x")], removed: []),
            .string(key: "t:batch:2", value: #"{"a":1}"#),
            .hash(key: "t:batch:1", fields: [("name", "second")], removed: ["gone"]),
            .hash(key: "t:batch:3", fields: [("x", "1")], removed: []),
            .delete(key: "t:batch:3"),
        ], checkpoint: ["file": "binlog.000001", "pos": "100", "server_id": "1"])
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGETALL", "t:batch:1"), "name\nsecond")
        XCTAssertEqual(try ServerEnvironment.redisCLI("GET", "t:batch:2"), #"{"a":1}"#)
        XCTAssertEqual(try ServerEnvironment.redisCLI("EXISTS", "t:batch:3"), "0")
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:batch:checkpoint", "pos"), "100")
        XCTAssertEqual(try sink.readCheckpoint()?["file"], "binlog.000001")
    }

    func testRejectedWriteLeavesTheCheckpointBehindAndNamesTheKey() throws {
        let sink = try makeSink("reject")
        try sink.apply([.string(key: "t:reject:1", value: "plain")], checkpoint: ["file": "binlog.000001", "pos": "10"])
        XCTAssertThrowsError(try sink.apply([.hash(key: "t:reject:1", fields: [("a", "1")], removed: [])],
                                            checkpoint: ["file": "binlog.000001", "pos": "20"])) { error in
            XCTAssertTrue("\(error)".contains("t:reject:1"), "\(error)")
            XCTAssertTrue("\(error)".contains("WRONGTYPE"), "\(error)")
            XCTAssertTrue("\(error)".contains("redis.mode"), "\(error)")
        }
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:reject:checkpoint", "pos"), "10")
    }

    func testPipelinedBatchesLeaveTheCheckpointBeforeTheFailedOne() throws {
        let sink = try makeSink("pipe")
        try sink.apply([.string(key: "t:pipe:2", value: "plain")], checkpoint: ["file": "binlog.000001", "pos": "5"])
        XCTAssertThrowsError(try sink.apply([
            (CacheWrites([.hash(key: "t:pipe:1", fields: [("a", "1")], removed: [])]), ["file": "binlog.000001", "pos": "10"]),
            (CacheWrites([.hash(key: "t:pipe:2", fields: [("a", "2")], removed: [])]), ["file": "binlog.000001", "pos": "20"]),
            (CacheWrites([.hash(key: "t:pipe:3", fields: [("a", "3")], removed: [])]), ["file": "binlog.000001", "pos": "30"]),
        ])) { error in
            XCTAssertTrue("\(error)".contains("t:pipe:2"), "\(error)")
            XCTAssertTrue("\(error)".contains("binlog.000001:20"), "\(error)")
        }
        // The first batch is confirmed; the checkpoint stays before the failed second one.
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:pipe:checkpoint", "pos"), "10")
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "t:pipe:1", "a"), "1")
        // A later good batch moves it on.
        try sink.apply([(CacheWrites([.delete(key: "t:pipe:2")]), ["file": "binlog.000001", "pos": "40"]),
                        (CacheWrites([.hash(key: "t:pipe:2", fields: [("a", "2")], removed: [])]), ["file": "binlog.000001", "pos": "50"])])
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:pipe:checkpoint", "pos"), "50")
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "t:pipe:2", "a"), "2")
    }

    func testOutOfMemoryStopsLoudlyAndKeepsTheCheckpoint() throws {
        let sink = try makeSink("oom")
        try sink.apply([.string(key: "t:oom:1", value: "small")], checkpoint: ["file": "binlog.000001", "pos": "100"])
        try ServerEnvironment.redisCLI("CONFIG", "SET", "maxmemory-policy", "noeviction")
        try ServerEnvironment.redisCLI("CONFIG", "SET", "maxmemory", "1")
        defer { _ = try? ServerEnvironment.redisCLI("CONFIG", "SET", "maxmemory", "0") }
        XCTAssertThrowsError(try sink.apply([.string(key: "t:oom:2", value: String(repeating: "x", count: 10_000))],
                                            checkpoint: ["file": "binlog.000001", "pos": "200"])) { error in
            XCTAssertTrue("\(error)".contains("OOM"), "\(error)")
            XCTAssertTrue("\(error)".contains("binlog.000001:200"), "\(error)")
        }
        _ = try ServerEnvironment.redisCLI("CONFIG", "SET", "maxmemory", "0")
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:oom:checkpoint", "pos"), "100")
        XCTAssertEqual(try ServerEnvironment.redisCLI("EXISTS", "t:oom:2"), "0")
    }

    func testReadOnlyReplicaStopsLoudlyNamingTheKey() throws {
        let sink = try makeSink("readonly")
        // The test Redis becomes a replica (of a port where nothing listens): read-only,
        // its data kept; REPLICAOF NO ONE makes it a primary again.
        try ServerEnvironment.redisCLI("REPLICAOF", "127.0.0.1", "1")
        defer { _ = try? ServerEnvironment.redisCLI("REPLICAOF", "NO", "ONE") }
        XCTAssertThrowsError(try sink.apply([.hash(key: "t:readonly:1", fields: [("a", "1")], removed: [])],
                                            checkpoint: ["file": "binlog.000001", "pos": "10"])) { error in
            XCTAssertTrue("\(error)".contains("READONLY"), "\(error)")
            XCTAssertTrue("\(error)".contains("binlog.000001:10"), "\(error)")
        }
        _ = try ServerEnvironment.redisCLI("REPLICAOF", "NO", "ONE")
        XCTAssertEqual(try ServerEnvironment.redisCLI("EXISTS", "t:readonly:1"), "0")
    }

    func testTTLExpiresAndBinaryKeysAndValuesStayExact() throws {
        let sink = try makeSink("ttl")
        try ServerEnvironment.redisCLI("DEL", "t:ttl:bin")
        try sink.apply([
            .hash(key: "t:ttl:1", fields: [("a", "1")], removed: ["b"], ttl: 100),
            .string(key: "t:ttl:2", value: "{}", ttl: 200),
            .hash(key: "t:ttl:3", fields: [], removed: ["gone"], ttl: 0),
            .string(key: "t:ttl:bin", value: "line1\r\nline2 \u{0}\u{1F600}"),
        ], checkpoint: ["file": "binlog.000001", "pos": "7"])
        let ttl1 = Int(try ServerEnvironment.redisCLI("TTL", "t:ttl:1")) ?? -9
        let ttl2 = Int(try ServerEnvironment.redisCLI("TTL", "t:ttl:2")) ?? -9
        XCTAssertTrue((90...100).contains(ttl1), "TTL \(ttl1)")
        XCTAssertTrue((190...200).contains(ttl2), "TTL \(ttl2)")
        XCTAssertEqual(try ServerEnvironment.redisCLI("EXISTS", "t:ttl:3"), "0")
        XCTAssertEqual(try ServerEnvironment.redisCLI("STRLEN", "t:ttl:bin"), String("line1\r\nline2 \u{0}\u{1F600}".utf8.count))
        XCTAssertEqual(try ServerEnvironment.redisCLI("HGET", "distributary:ttl:checkpoint", "pos"), "7")
    }

    func testURLParsing() throws {
        let url = try RedisURL(parsing: "redis://app:s3cret@cache.local:6380/2")
        XCTAssertEqual(url, RedisURL(host: "cache.local", port: 6380, user: "app", password: "s3cret", database: 2))
        XCTAssertFalse(url.description.contains("s3cret"))
        XCTAssertThrowsError(try RedisURL(parsing: "rediss://x")) { XCTAssertTrue("\($0)".contains("TLS")) }
        XCTAssertThrowsError(try RedisURL(parsing: "redis://h:port/0")) { XCTAssertTrue("\($0)".contains("port")) }
    }

    func testConnectionRefusedNamesTheURL() throws {
        _ = try ServerEnvironment.redisPort()
        XCTAssertThrowsError(try RedisClient(url: RedisURL(port: 1), timeoutSeconds: 2)) { error in
            XCTAssertTrue("\(error)".contains("127.0.0.1:1"), "\(error)")
            XCTAssertTrue("\(error)".contains("redis.url"), "\(error)")
        }
    }
}

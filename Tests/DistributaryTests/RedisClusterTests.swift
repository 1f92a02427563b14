import RedisSink
import Routing
import XCTest

/// RedisClusterSink against the 3-master cluster of scripts/redis-cluster.sh; results read
/// back with redis-cli.
final class RedisClusterTests: XCTestCase {
    var ports: [Int32] = []

    override func setUpWithError() throws {
        ports = try ServerEnvironment.clusterPorts()
    }

    func cli(_ args: String...) throws -> String { try ServerEnvironment.clusterCLI(ports[0], args) }

    /// Node id and port of the master that serves `slot`.
    func owner(of slot: Int) throws -> (id: String, port: Int32) {
        let port = Int32(try ServerEnvironment.clusterCLI(ports[0], follow: false, ["CLUSTER", "SLOTS"])
            .split(separator: "\n").map(String.init)
            .chunks().first { Int($0[0])! <= slot && slot <= Int($0[1])! }![3])!
        return (try ServerEnvironment.clusterCLI(port, follow: false, ["CLUSTER", "MYID"]), port)
    }

    /// Removes this test's keys, checkpoint and versions from every node.
    func clean(_ name: String) throws {
        for port in ports {
            for pattern in ["distributary:\(name):*", "c:\(name):*"] {
                let found = try ServerEnvironment.clusterCLI(port, follow: false, ["--scan", "--pattern", pattern])
                if found.isEmpty { continue }
                let commands = found.split(separator: "\n").map { "DEL \($0)\n" }.joined()
                try ServerEnvironment.run(["redis-cli", "-h", "127.0.0.1", "-p", String(port)], input: commands)
            }
        }
    }

    func makeSink(_ name: String, retrySeconds: Double = 30) throws -> RedisClusterSink {
        try RedisClusterSink(url: RedisURL(port: ports[0]), pipelineName: name, retrySeconds: retrySeconds)
    }

    func testSlotsAgreeWithRedis() throws {
        for key in ["", "a", "product:1", "user:{42}:profile", "{}x", "x{}y{z}", "{a}{b}", "日本語", "foo{bar"] {
            XCTAssertEqual(ClusterSlots.slot(of: key), Int(try ServerEnvironment.clusterCLI(ports[0], follow: false, ["CLUSTER", "KEYSLOT", key])), key)
        }
        XCTAssertEqual(ClusterSlots.tags.count, 16384)
        for slot in [0, 1, 5460, 5461, 9999, 16383] {
            XCTAssertEqual(ClusterSlots.slot(of: "v:{\(ClusterSlots.tags[slot])}"), slot)
            XCTAssertEqual(Int(try ServerEnvironment.clusterCLI(ports[0], follow: false, ["CLUSTER", "KEYSLOT", "v:{\(ClusterSlots.tags[slot])}"])), slot)
        }
    }

    func testBatchesLandOnEveryMasterCheckpointLast() throws {
        let keys = (0..<300).map { "c:spread:\($0)" }
        try clean("spread")
        let sink = try makeSink("spread")
        XCTAssertNil(try sink.readCheckpoint())
        let start = sink.sequence
        var t1 = CacheWrites(), t2 = CacheWrites()
        for (i, key) in keys.enumerated() {
            switch i % 3 {
            case 0: t1.append(contentsOf: [.hash(key: key, fields: [("n", "\(i)"), ("gone", "x")], removed: [], ttl: i == 0 ? 100 : 0)])
            case 1: t1.append(contentsOf: [.string(key: key, value: #"{"n":\#(i)}"#)])
            default: t1.append(contentsOf: [.hash(key: key, fields: [("n", "\(i)")], removed: [])])
            }
        }
        // The second transaction replaces, deletes and re-creates some of them.
        t2.append(contentsOf: [.hash(key: keys[0], fields: [("n", "new")], removed: ["gone"], ttl: 100), .delete(key: keys[2]),
                               .delete(key: keys[5]), .hash(key: keys[5], fields: [("n", "again")], removed: [])])
        try sink.apply([t1, t2], checkpoint: ["file": "binlog.000003", "pos": "900", "server_id": "1"])
        XCTAssertEqual(sink.sequence, start + 2)
        XCTAssertEqual(try cli("HGETALL", keys[0]), "n\nnew")
        XCTAssertGreaterThan(Int(try cli("TTL", keys[0])) ?? -1, 90)
        XCTAssertEqual(try cli("GET", keys[1]), #"{"n":1}"#)
        XCTAssertEqual(try cli("EXISTS", keys[2]), "0")
        XCTAssertEqual(try cli("HGETALL", keys[5]), "n\nagain")
        XCTAssertEqual(try cli("HGET", keys[299], "n"), "299")
        XCTAssertEqual(try cli("HGET", "distributary:spread:checkpoint", "pos"), "900")
        XCTAssertEqual(try cli("HGET", "distributary:spread:checkpoint", "seq"), String(start + 2))
        // Every master holds some of the keys.
        for port in ports {
            let held = try ServerEnvironment.clusterCLI(port, follow: false, ["--scan", "--pattern", "c:spread:*"])
            XCTAssertGreaterThan(held.split(separator: "\n").count, 50, "node \(port)")
        }
        // The version of a key is the sequence number of the transaction that last wrote it.
        let slot = ClusterSlots.slot(of: keys[5])
        XCTAssertEqual(try cli("HGET", "distributary:spread:versions:{\(ClusterSlots.tags[slot])}", keys[5]), String(start + 2))
        // A new sink resumes the sequence from the checkpoint.
        XCTAssertEqual(try makeSink("spread").sequence, start + 2)
    }

    func testReplayAfterACrashNeverMovesAKeyBackwards() throws {
        let keys = ["c:replay:a", "c:replay:b", "c:replay:c"]
        try clean("replay")
        let sink = try makeSink("replay")
        try sink.apply([[.hash(key: keys[0], fields: [("v", "0")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "100"])
        let checkpoint = try XCTUnwrap(sink.readCheckpoint())
        // Three transactions: a=1, b created, then a=2 and b deleted, then c=3.
        let t1: CacheWrites = [.hash(key: keys[0], fields: [("v", "1")], removed: []), .hash(key: keys[1], fields: [("v", "1")], removed: [])]
        let t2: CacheWrites = [.hash(key: keys[0], fields: [("v", "2")], removed: []), .delete(key: keys[1])]
        let t3: CacheWrites = [.hash(key: keys[2], fields: [("v", "3")], removed: [])]
        try sink.apply([t1, t2, t3], checkpoint: ["file": "binlog.000001", "pos": "400"])
        // A crash between the data and the checkpoint: the checkpoint is still at pos 100.
        var argv = ["HSET", "distributary:replay:checkpoint"]
        for (k, v) in checkpoint { argv += [k, v] }
        _ = try ServerEnvironment.clusterCLI(ports[0], argv)
        let restarted = try makeSink("replay")
        XCTAssertEqual(restarted.sequence, sink.sequence - 3)
        // The replay goes in smaller batches than the first time; after each, no key is older than before.
        try restarted.apply([t1], checkpoint: ["file": "binlog.000001", "pos": "200"])
        XCTAssertEqual(try cli("HGET", keys[0], "v"), "2")
        XCTAssertEqual(try cli("EXISTS", keys[1]), "0", "a replayed insert must not bring back a deleted key")
        try restarted.apply([t2, t3], checkpoint: ["file": "binlog.000001", "pos": "400"])
        XCTAssertEqual(try cli("HGET", keys[0], "v"), "2")
        XCTAssertEqual(try cli("EXISTS", keys[1]), "0")
        XCTAssertEqual(try cli("HGET", keys[2], "v"), "3")
        XCTAssertEqual(restarted.sequence, sink.sequence)
        // Later transactions apply again.
        try restarted.apply([[.hash(key: keys[1], fields: [("v", "4")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "500"])
        XCTAssertEqual(try cli("HGET", keys[1], "v"), "4")
    }

    func testPiecesOfALargeTransactionShareAVersionAndKeepTheCheckpoint() throws {
        try clean("pieces")
        let sink = try makeSink("pieces")
        let start = sink.sequence
        let before = ["file": "binlog.000001", "pos": "100"]
        // Two pieces of one transaction, in two batches: the checkpoint stays before it.
        try sink.apply([[.hash(key: "c:pieces:a", fields: [("v", "1")], removed: [])]], partial: [true], checkpoint: before)
        XCTAssertEqual(try cli("HGET", "distributary:pieces:checkpoint", "seq"), String(start))
        XCTAssertEqual(try cli("HGET", "distributary:pieces:checkpoint", "pos"), "100")
        try sink.apply([[.hash(key: "c:pieces:a", fields: [("v", "2")], removed: [])], [.hash(key: "c:pieces:b", fields: [("v", "3")], removed: [])]],
                       partial: [true, false], checkpoint: ["file": "binlog.000001", "pos": "900"])
        // The last piece closes the transaction (seq + 1); the next whole one is seq + 2.
        XCTAssertEqual(try cli("HGET", "distributary:pieces:checkpoint", "seq"), String(start + 1))
        XCTAssertEqual(try cli("HGET", "distributary:pieces:checkpoint", "pos"), "900")
        let slot = ClusterSlots.slot(of: "c:pieces:a")
        XCTAssertEqual(try cli("HGET", "distributary:pieces:versions:{\(ClusterSlots.tags[slot])}", "c:pieces:a"), String(start + 1), "pieces share their transaction's version")
        XCTAssertEqual(try cli("HGET", "c:pieces:a", "v"), "2")
        try sink.apply([[.hash(key: "c:pieces:a", fields: [("v", "4")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "950"])
        XCTAssertEqual(try cli("HGET", "distributary:pieces:checkpoint", "seq"), String(start + 2))
        XCTAssertEqual(try cli("HGET", "c:pieces:a", "v"), "4")
    }

    /// Moves `slot` (and its keys) from its master to another one, as `redis-cli --cluster reshard` does.
    func moveSlot(_ slot: Int, keepMigrating: Bool = false, migrate: ((String) -> Bool)? = nil) throws -> (from: Int32, to: Int32) {
        let source = try owner(of: slot)
        let targetPort = ports.first { $0 != source.port }!
        let targetID = try ServerEnvironment.clusterCLI(targetPort, follow: false, ["CLUSTER", "MYID"])
        try ServerEnvironment.clusterCLI(targetPort, follow: false, ["CLUSTER", "SETSLOT", String(slot), "IMPORTING", source.id])
        try ServerEnvironment.clusterCLI(source.port, follow: false, ["CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID])
        let keys = try ServerEnvironment.clusterCLI(source.port, follow: false, ["CLUSTER", "GETKEYSINSLOT", String(slot), "1000"])
            .split(separator: "\n").map(String.init).filter { migrate?($0) ?? true }
        if !keys.isEmpty {
            try ServerEnvironment.clusterCLI(source.port, follow: false, ["MIGRATE", "127.0.0.1", String(targetPort), "", "0", "5000", "KEYS"] + keys)
        }
        if !keepMigrating { try finishMove(slot, from: source.port, to: targetPort) }
        return (source.port, targetPort)
    }

    /// Moves the slot's remaining keys and gives the slot to `to` on every master.
    func finishMove(_ slot: Int, from: Int32, to: Int32) throws {
        let keys = try ServerEnvironment.clusterCLI(from, follow: false, ["CLUSTER", "GETKEYSINSLOT", String(slot), "1000"])
            .split(separator: "\n").map(String.init)
        if !keys.isEmpty {
            try ServerEnvironment.clusterCLI(from, follow: false, ["MIGRATE", "127.0.0.1", String(to), "", "0", "5000", "KEYS"] + keys)
        }
        let id = try ServerEnvironment.clusterCLI(to, follow: false, ["CLUSTER", "MYID"])
        for port in ports { try ServerEnvironment.clusterCLI(port, follow: false, ["CLUSTER", "SETSLOT", String(slot), "NODE", id]) }
    }

    func testMovedSlotIsFollowed() throws {
        let key = "c:moved:{m1}"
        try clean("moved")
        let sink = try makeSink("moved")
        try sink.apply([[.hash(key: key, fields: [("v", "1")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "10"])
        let slot = ClusterSlots.slot(of: key)
        let (from, to) = try moveSlot(slot)
        // The sink still has the old map: the old master answers MOVED, the sink reloads the map.
        try sink.apply([[.hash(key: key, fields: [("v", "2")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "20"])
        XCTAssertEqual(try ServerEnvironment.clusterCLI(to, follow: false, ["HGET", key, "v"]), "2")
        XCTAssertEqual(try ServerEnvironment.clusterCLI(from, follow: false, ["EXISTS", key]).hasPrefix("MOVED"), true)
        XCTAssertEqual(try cli("HGET", "distributary:moved:checkpoint", "pos"), "20")
    }

    func testAskDuringMigrationIsFollowed() throws {
        let key = "c:ask:{a7}"
        try clean("ask")
        let sink = try makeSink("ask")
        try sink.apply([[.hash(key: key, fields: [("v", "1")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "10"])
        let slot = ClusterSlots.slot(of: key)
        // The key and its versions hash have moved, the slot is still migrating: the old master answers ASK.
        let (from, to) = try moveSlot(slot, keepMigrating: true)
        defer { try? finishMove(slot, from: from, to: to) }
        try sink.apply([[.hash(key: key, fields: [("v", "2")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "20"])
        try finishMove(slot, from: from, to: to)
        XCTAssertEqual(try ServerEnvironment.clusterCLI(to, follow: false, ["HGET", key, "v"]), "2")
    }

    func testHalfMigratedSlotIsRetriedThenReportedWithTheBatch() throws {
        let key = "c:half:{h3}"
        try clean("half")
        let sink = try makeSink("half", retrySeconds: 1)
        try sink.apply([[.hash(key: key, fields: [("v", "1")], removed: [])]], checkpoint: ["file": "binlog.000001", "pos": "10"])
        let slot = ClusterSlots.slot(of: key)
        // Only the key has moved, not its versions hash: both masters answer TRYAGAIN.
        let (from, to) = try moveSlot(slot, keepMigrating: true) { $0 == key }
        defer { try? finishMove(slot, from: from, to: to) }
        XCTAssertThrowsError(try sink.apply([[.hash(key: key, fields: [("v", "2")], removed: [])]],
                                            checkpoint: ["file": "binlog.000001", "pos": "20"])) { error in
            XCTAssertEqual((error as? SinkError)?.code, .connect, "\(error)")
            XCTAssertTrue("\(error)".contains("binlog.000001:20"), "\(error)")
        }
        XCTAssertEqual(try cli("HGET", "distributary:half:checkpoint", "pos"), "10")
    }

    func testWrongTypeStopsLoudlyAndKeepsTheCheckpoint() throws {
        let key = "c:wrong:1"
        try clean("wrong")
        let sink = try makeSink("wrong")
        try sink.apply([[.string(key: key, value: "plain")]], checkpoint: ["file": "binlog.000001", "pos": "10"])
        XCTAssertThrowsError(try sink.apply([[.hash(key: key, fields: [("a", "1")], removed: [])]],
                                            checkpoint: ["file": "binlog.000001", "pos": "20"])) { error in
            XCTAssertEqual((error as? SinkError)?.code, .command, "\(error)")
            XCTAssertTrue("\(error)".contains(key), "\(error)")
            XCTAssertTrue("\(error)".contains("WRONGTYPE"), "\(error)")
            XCTAssertTrue("\(error)".contains("binlog.000001:20"), "\(error)")
        }
        XCTAssertEqual(try cli("HGET", "distributary:wrong:checkpoint", "pos"), "10")
        XCTAssertEqual(try cli("GET", key), "plain")
    }

    func testStandaloneServerIsRefusedWithTheFix() throws {
        let port = try ServerEnvironment.redisPort()
        XCTAssertThrowsError(try RedisClusterSink(url: RedisURL(port: port), pipelineName: "standalone")) { error in
            XCTAssertEqual((error as? SinkError)?.code, .config, "\(error)")
            XCTAssertTrue("\(error)".contains("redis.cluster"), "\(error)")
        }
        XCTAssertThrowsError(try RedisClusterSink(url: RedisURL(port: ports[0], database: 2), pipelineName: "db")) { error in
            XCTAssertTrue("\(error)".contains("database"), "\(error)")
        }
    }
}

private extension Array where Element == String {
    /// CLUSTER SLOTS printed by redis-cli --raw: start, end, then host, port, id per node.
    func chunks() -> [[String]] {
        var out: [[String]] = []
        var i = 0
        while i + 4 < count, Int(self[i]) != nil, Int(self[i + 1]) != nil {
            var chunk = Array(self[i..<(i + 5)])
            i += 5
            // Replicas (none in the test cluster) would follow as host, port, id.
            while i + 2 < count, Int(self[i]) == nil, Int(self[i + 1]) != nil, Int(self[i + 2]) == nil { chunk += self[i..<(i + 3)]; i += 3 }
            out.append(chunk)
        }
        return out
    }
}

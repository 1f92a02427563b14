/// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384.
public enum ClusterSlots {
    public static let count = 16384

    private static let table: [UInt16] = (0..<256).map { byte -> UInt16 in
        var crc = UInt16(byte) << 8
        for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        return crc
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), as Redis Cluster uses it.
    @inline(__always)
    public static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        table.withUnsafeBufferPointer { t in
            for b in bytes { crc = (crc << 8) ^ t[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
        }
        return crc
    }

    /// The slot of a key: when the key holds `{…}` with at least one byte between the first
    /// `{` and the next `}`, only those bytes are hashed (the hash tag).
    public static func slot(of key: UnsafeRawBufferPointer) -> Int {
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            return Int(crc16(UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])) & 0x3fff)
        }
        return Int(crc16(key) & 0x3fff)
    }

    public static func slot(of key: String) -> Int {
        var key = key
        return key.withUTF8 { slot(of: UnsafeRawBufferPointer($0)) }
    }

    /// For every slot, a short hash tag that maps to it (the smallest decimal number whose
    /// CRC16 lands there): a key `…{tag}…` lives in that slot.
    public static let tags: [String] = {
        var tags = [String?](repeating: nil, count: count)
        var missing = count
        var n = 0
        while missing > 0 {
            let text = String(n)
            var t = text
            let s = t.withUTF8 { Int(crc16(UnsafeRawBufferPointer($0)) & 0x3fff) }
            if tags[s] == nil { tags[s] = text; missing -= 1 }
            n += 1
        }
        return tags.map { $0! }
    }()
}

/// Which node serves each slot, from `CLUSTER SLOTS`.
public struct SlotMap: Sendable, Equatable {
    /// `host:port` of every master, in the order the reply named them.
    public var nodes: [Endpoint]
    /// For every slot, an index into `nodes`, or -1 when no node serves it.
    public var owner: [Int16]

    public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
        public var host: String
        public var port: Int32
        public init(host: String, port: Int32) { self.host = host; self.port = port }
        public var description: String { "\(host):\(port)" }

        /// Parses `host:port` (as MOVED and ASK name a node).
        public init?(_ text: Substring) {
            guard let colon = text.lastIndex(of: ":"), let port = Int32(text[text.index(after: colon)...]) else { return nil }
            host = String(text[..<colon])
            self.port = port
        }
    }

    public init(nodes: [Endpoint], owner: [Int16]) {
        self.nodes = nodes
        self.owner = owner
    }

    /// A map where one node serves every slot (a server without cluster mode).
    public static func single(_ node: Endpoint) -> SlotMap {
        SlotMap(nodes: [node], owner: [Int16](repeating: 0, count: ClusterSlots.count))
    }

    /// Reads a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id…], replicas…], …]`.
    /// An empty host means the node that answered (`askedHost`).
    public init(clusterSlots reply: RedisReply, askedHost: String) throws {
        guard case .array(let ranges) = reply else {
            throw SinkError(.protocolError, "CLUSTER SLOTS answered \(reply)")
        }
        var nodes: [Endpoint] = []
        var owner = [Int16](repeating: -1, count: ClusterSlots.count)
        for range in ranges {
            guard case .array(let parts) = range, parts.count >= 3,
                  case .integer(let start) = parts[0], case .integer(let end) = parts[1],
                  case .array(let master) = parts[2], master.count >= 2,
                  case .integer(let port) = master[1], start >= 0, end < ClusterSlots.count, start <= end else {
                throw SinkError(.protocolError, "CLUSTER SLOTS answered an unreadable range: \(range)")
            }
            var host = master[0].text ?? ""
            if host.isEmpty || host == "?" { host = askedHost }
            let node = Endpoint(host: host, port: Int32(port))
            let index: Int
            if let i = nodes.firstIndex(of: node) { index = i } else { index = nodes.count; nodes.append(node) }
            for s in Int(start)...Int(end) { owner[s] = Int16(index) }
        }
        if nodes.isEmpty { throw SinkError(.connect, "the cluster serves no slots yet (CLUSTER SLOTS is empty); is it created?") }
        self.init(nodes: nodes, owner: owner)
    }

    /// Slots no node serves.
    public var unservedSlots: Int { owner.reduce(0) { $0 + ($1 < 0 ? 1 : 0) } }
}

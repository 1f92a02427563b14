import Foundation

/// A MariaDB GTID position: for each replication domain, the last transaction applied
/// (`domain-server-sequence`), as `@@gtid_binlog_pos`, `BINLOG_GTID_POS()` and
/// `@slave_connect_state` spell it: `0-1-100,1-2-57`.
///
/// A transaction `d-s-n` is held by a position when the position's entry for domain `d`
/// has a sequence number ≥ `n` (sequence numbers grow within a domain; the server checks
/// this when we connect with `@slave_gtid_strict_mode = 1`).
public struct GTIDPosition: Sendable, Equatable, CustomStringConvertible {
    public struct Entry: Sendable, Equatable {
        public var serverID: UInt32
        public var sequence: UInt64
    }

    /// Last GTID per domain.
    public private(set) var domains: [UInt32: Entry] = [:]

    public init() {}

    /// Parses `0-1-100,1-2-57` (spaces and an empty string allowed). `what` names the
    /// setting or source for the error message.
    public init(parsing text: String, what: String) throws {
        for part in text.split(separator: ",") {
            let trimmed = part.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.isEmpty { continue }
            guard let (domain, entry) = Self.parseOne(trimmed) else {
                throw SourceError(.config, "\(what): `\(trimmed)` is not a MariaDB GTID; write domain-server-sequence, e.g. 0-1-100 (several separated by commas, one per domain)")
            }
            guard domains[domain] == nil else {
                throw SourceError(.config, "\(what): domain \(domain) appears twice in `\(text)`; give one GTID per domain")
            }
            domains[domain] = entry
        }
    }

    static func parseOne<S: StringProtocol>(_ s: S) -> (UInt32, Entry)? {
        let pieces = s.split(separator: "-", omittingEmptySubsequences: false)
        guard pieces.count == 3, let d = UInt32(pieces[0]), let server = UInt32(pieces[1]),
              let n = UInt64(pieces[2]) else { return nil }
        return (d, Entry(serverID: server, sequence: n))
    }

    public var isEmpty: Bool { domains.isEmpty }

    /// Records that transaction `gtid` (`d-s-n`) was applied. Returns false when `gtid`
    /// is not a MariaDB GTID (a MySQL `uuid:n`, say), which leaves the position as it is.
    @discardableResult
    public mutating func advance(to gtid: String) -> Bool {
        guard let (d, entry) = Self.parseOne(gtid) else { return false }
        domains[d] = entry
        return true
    }

    /// Whether the transaction `gtid` is at or before this position; `nil` when `gtid`
    /// is not a MariaDB GTID.
    public func holds(_ gtid: String) -> Bool? {
        guard let (d, entry) = Self.parseOne(gtid) else { return nil }
        guard let mine = domains[d] else { return false }
        return entry.sequence <= mine.sequence
    }

    /// The position every one of `positions` has reached: per domain the lowest
    /// sequence; a domain missing from any of them is left out (reading starts at the
    /// beginning of that domain).
    public static func lowest(_ positions: [GTIDPosition]) -> GTIDPosition {
        guard var result = positions.first else { return GTIDPosition() }
        for p in positions.dropFirst() {
            for (d, e) in result.domains {
                if let other = p.domains[d] {
                    if other.sequence < e.sequence { result.domains[d] = other }
                } else {
                    result.domains[d] = nil
                }
            }
        }
        return result
    }

    /// `0-1-100,1-2-57`, domains in ascending order.
    public var description: String {
        domains.keys.sorted().map { d in
            let e = domains[d]!
            return "\(d)-\(e.serverID)-\(e.sequence)"
        }.joined(separator: ",")
    }
}

/// A MySQL GTID set (`3e11fa47-…:1-5:7,…`, tagged `uuid:tag:1-3` on MySQL ≥ 8.3): the
/// transactions a server has executed. MySQL is read and resumed by file and position
/// (Connector/C cannot send COM_BINLOG_DUMP_GTID); the set is tracked so checkpoints and
/// `status` can say which transactions the stores hold.
public struct MySQLGTIDSet: Sendable, Equatable, CustomStringConvertible {
    /// `uuid` or `uuid:tag` → sorted, disjoint, non-adjacent intervals.
    public private(set) var intervals: [String: [ClosedRange<UInt64>]] = [:]

    public init() {}

    /// Parses the text of `@@gtid_executed`, SHOW MASTER STATUS or PREVIOUS_GTIDS.
    public init(parsing text: String, what: String) throws {
        for part in text.split(separator: ",") {
            let tokens = part.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":").map(String.init)
            guard tokens.count >= 2, tokens[0].count == 36 else {
                if tokens.joined().isEmpty { continue }
                throw SourceError(.config, "\(what): `\(part)` is not a MySQL GTID set; write uuid:1-5[:7…], several separated by commas")
            }
            var key = tokens[0].lowercased()
            var sawInterval = false
            for token in tokens.dropFirst() {
                let ends = token.split(separator: "-", omittingEmptySubsequences: false)
                if let a = UInt64(ends[0]), ends.count <= 2, let b = ends.count == 2 ? UInt64(ends[1]) : a, a <= b, a >= 1 {
                    insert(a...b, into: key)
                    sawInterval = true
                } else if token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }), !token.isEmpty {
                    key = tokens[0].lowercased() + ":" + token.lowercased()
                } else {
                    throw SourceError(.config, "\(what): `\(token)` in `\(part)` is neither an interval (1-5) nor a tag")
                }
            }
            if !sawInterval {
                throw SourceError(.config, "\(what): `\(part)` names no transactions (expected uuid:1-5)")
            }
        }
    }

    /// Adds the transaction `uuid:n` (or `uuid:tag:n`); false when `gtid` is not one.
    @discardableResult
    public mutating func add(_ gtid: String) -> Bool {
        guard let colon = gtid.lastIndex(of: ":"), let n = UInt64(gtid[gtid.index(after: colon)...]), n >= 1,
              gtid.distance(from: gtid.startIndex, to: colon) >= 36 else { return false }
        insert(n...n, into: gtid[..<colon].lowercased())
        return true
    }

    public func contains(_ gtid: String) -> Bool {
        guard let colon = gtid.lastIndex(of: ":"), let n = UInt64(gtid[gtid.index(after: colon)...]) else { return false }
        return intervals[gtid[..<colon].lowercased()]?.contains { $0.contains(n) } ?? false
    }

    private mutating func insert(_ range: ClosedRange<UInt64>, into key: String) {
        var list = intervals[key] ?? []
        var merged = range
        var kept: [ClosedRange<UInt64>] = []
        for r in list {
            // Overlapping or adjacent intervals merge.
            if r.upperBound &+ 1 >= merged.lowerBound && merged.upperBound &+ 1 >= r.lowerBound {
                merged = min(r.lowerBound, merged.lowerBound)...max(r.upperBound, merged.upperBound)
            } else {
                kept.append(r)
            }
        }
        kept.append(merged)
        list = kept.sorted { $0.lowerBound < $1.lowerBound }
        intervals[key] = list
    }

    /// `uuid:1-5:7,uuid2:1-3`, keys in ascending order.
    public var description: String {
        intervals.keys.sorted().map { key in
            key + ":" + intervals[key]!.map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
                .joined(separator: ":")
        }.joined(separator: ",")
    }
}

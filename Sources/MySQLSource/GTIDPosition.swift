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

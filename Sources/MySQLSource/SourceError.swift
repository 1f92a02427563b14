/// An error from the source server or the connection to it. The message names what
/// failed, where (host, setting, position) and what to do about it.
public struct SourceError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. New codes never break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case connect, query, settings, privileges, stream, config, schema, purged, diverged, lost }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let connect = Code(.connect)
        public static let query = Code(.query)
        public static let settings = Code(.settings)
        public static let privileges = Code(.privileges)
        public static let stream = Code(.stream)
        public static let config = Code(.config)
        public static let schema = Code(.schema)
        /// The requested position or GTID is no longer on the server: only a resync helps.
        public static let purged = Code(.purged)
        /// The derived stores hold transactions the server does not have: only a resync helps.
        public static let diverged = Code(.diverged)
        /// The connection broke or went silent; reconnecting may help.
        public static let lost = Code(.lost)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String
    /// The server's error number, when it sent one.
    public var serverErrno: UInt32?

    public init(_ code: Code, _ message: String, serverErrno: UInt32? = nil) {
        self.code = code
        self.message = message
        self.serverErrno = serverErrno
    }

    public var description: String { "source \(code) error: \(message)" }

    /// Whether reconnecting can help: the network or the server went away, the server
    /// is restarting or killed our session, or it is out of connections. Wrong
    /// credentials, settings, privileges, purged positions and bad events are not.
    public var isTransient: Bool {
        if code == .lost { return true }
        if code == .purged || code == .diverged || code == .settings || code == .privileges || code == .config || code == .schema { return false }
        guard let errno = serverErrno else { return false }
        return Self.transientErrnos.contains(errno)
    }

    /// Client (CR_*) and server (ER_*) error numbers that mean "try again later".
    static let transientErrnos: Set<UInt32> = [
        2002, 2003, 2005, 2006, 2013, 2055,  // cannot connect, unknown host, gone, lost, lost (extended)
        1040, 1053, 1077, 1152, 1184,        // too many connections, shutdown in progress, aborted connections
        1158, 1159, 1160, 1161,              // network read/write errors and timeouts
        1205, 1213, 1317, 1927, 4031,        // lock wait, deadlock, interrupted, connection killed, idle timeout
    ]
}

/// An error from the source server or the connection to it. The message names what
/// failed, where (host, setting, position) and what to do about it.
public struct SourceError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. New codes never break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case connect, query, settings, privileges, stream, config, schema }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let connect = Code(.connect)
        public static let query = Code(.query)
        public static let settings = Code(.settings)
        public static let privileges = Code(.privileges)
        public static let stream = Code(.stream)
        public static let config = Code(.config)
        public static let schema = Code(.schema)
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
}

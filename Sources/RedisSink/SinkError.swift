/// An error from a derived store. The message names the store, what failed and the fix.
public struct SinkError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is. New codes never break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String { case connect, command, protocolError, config }
        private let base: Base
        private init(_ base: Base) { self.base = base }
        public static let connect = Code(.connect)
        public static let command = Code(.command)
        public static let protocolError = Code(.protocolError)
        public static let config = Code(.config)
        public var description: String { base.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "redis \(code) error: \(message)" }
}

/// A configuration problem. `keyPath` names the key (`tables.shop.products.redis.mode`),
/// `line` the line of the YAML file when known, and the message says how to fix it.
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var keyPath: String
    public var line: Int?
    public var message: String

    public init(_ keyPath: String, line: Int? = nil, _ message: String) {
        self.keyPath = keyPath
        self.line = line
        self.message = message
    }

    public var description: String {
        let at = keyPath.isEmpty ? "" : " at `\(keyPath)`"
        let where_ = line.map { " (line \($0))" } ?? ""
        return "config error\(at)\(where_): \(message)"
    }
}

import BinlogCore
import Foundation
import Hummingbird
import SearchIndex

/// JSON rendering of search results (DESIGN.md, HTTP contract):
/// `{"total": N, "hits": [{"id": "…", "score": 1.5, "fields": {…}}]}`; a hit gets
/// `"highlights": {field: snippet}` when snippets were asked for and found.
public enum SearchJSON {
    public static func render(_ results: SearchResults) -> String {
        var out = "{\"total\":\(results.total),\"hits\":["
        for (i, hit) in results.hits.enumerated() {
            if i > 0 { out += "," }
            out += "{\"id\":"
            JSONText.appendString(hit.id, to: &out)
            out += ",\"score\":\(hit.score.isFinite ? String(hit.score) : "0"),\"fields\":{"
            for (j, (name, value)) in hit.fields.sorted(by: { $0.key < $1.key }).enumerated() {
                if j > 0 { out += "," }
                JSONText.appendString(name, to: &out)
                out += ":"
                switch value {
                case .string(let s): JSONText.appendString(s, to: &out)
                case .int(let v): out += String(v)
                case .double(let v): out += v.isFinite ? String(v) : "null"
                }
            }
            out += "}"
            if !hit.highlights.isEmpty {
                out += ",\"highlights\":{"
                for (j, (name, snippet)) in hit.highlights.sorted(by: { $0.key < $1.key }).enumerated() {
                    if j > 0 { out += "," }
                    JSONText.appendString(name, to: &out)
                    out += ":"
                    JSONText.appendString(snippet, to: &out)
                }
                out += "}"
            }
            out += "}"
        }
        out += "]}"
        return out
    }

    public static func error(_ message: String, position: Int? = nil) -> String {
        var out = "{\"error\":"
        JSONText.appendString(message, to: &out)
        if let position { out += ",\"position\":\(position)" }
        return out + "}"
    }
}

/// The HTTP API: search, health. Served while `run` streams.
///
/// Search parameters: `q` (the query), `limit`, `offset`, `filter` (a query every hit
/// must also match, not scored: `status:active`, `price:[10 TO 20]`), `sort` (a number
/// field, ascending; `-field` for descending), `highlight` (comma-separated stored text
/// fields to return snippets of). Field errors answer 400 like syntax errors.
public enum HTTPAPI {
    public static func router(snapshot: @escaping @Sendable () -> IndexSnapshot?) -> Hummingbird.Router<BasicRequestContext> {
        let router = Hummingbird.Router()
        router.get("/health") { _, _ -> Response in
            json(.ok, "{\"status\":\"ok\"}")
        }
        router.get("/indexes/:name/search") { request, context -> Response in
            let name = context.parameters.get("name") ?? ""
            let params = formParameters(request.uri.query ?? "")
            guard let query = params["q"], !query.isEmpty else {
                return json(.badRequest, SearchJSON.error("missing query parameter q, e.g. /indexes/\(name)/search?q=word"))
            }
            let limit = params["limit"].flatMap { Int($0) } ?? 10
            let offset = params["offset"].flatMap { Int($0) } ?? 0
            guard (0...10_000).contains(limit), offset >= 0 else {
                return json(.badRequest, SearchJSON.error("limit must be 0…10000 and offset ≥ 0"))
            }
            guard let snapshot = snapshot() else {
                return json(.notFound, SearchJSON.error("this pipeline has no index configured"))
            }
            var options = SearchOptions(limit: limit, offset: offset)
            if let sort = params["sort"], !sort.isEmpty {
                options.sort = sort.hasPrefix("-") ? .number(field: String(sort.dropFirst()), descending: true) : .number(field: sort, descending: false)
            }
            if let filter = params["filter"], !filter.isEmpty { options.filters = [filter] }
            if let highlight = params["highlight"], !highlight.isEmpty {
                options.highlight = highlight.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            }
            do {
                let results = try snapshot.search(index: name, query: query, options: options)
                return json(.ok, SearchJSON.render(results))
            } catch let error as SearchError {
                switch error.code {
                case .unknownIndex: return json(.notFound, SearchJSON.error(error.description))
                case .querySyntax, .unknownField, .fieldType:
                    return json(.badRequest, SearchJSON.error(error.description, position: error.position))
                default: return json(.internalServerError, SearchJSON.error(error.description))
                }
            }
        }
        return router
    }

    /// Decodes `application/x-www-form-urlencoded` parameters: `+` is a space (so a
    /// Lucene `+must` is sent as `%2B`), `%XX` a byte. The first value of a name wins.
    static func formParameters(_ query: String) -> [String: String] {
        var out: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            let name = decode(parts[0])
            if out[name] == nil { out[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return out
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

import Distributary
import Foundation
import Hummingbird
import HummingbirdTesting
import SearchIndex
import XCTest

/// The search API over a real on-disk index.
final class HTTPAPITests: XCTestCase {
    func makeStore() throws -> IndexStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("dst-http-\(UUID().uuidString)").path
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        let store = try IndexStore(directory: dir, schemas: [
            "products": IndexSchema(fields: ["name": .text, "status": .keyword, "price": .number], stored: ["name", "price"]),
        ])
        try store.upsert(index: "products", document: Document(id: "1", fields: ["name": .text("Vim editor"), "status": .keyword("active"), "price": .number(12.5)],
                                                               stored: ["name": .string("Vim editor"), "price": .double(12.5)]))
        try store.upsert(index: "products", document: Document(id: "2", fields: ["name": .text("Emacs \"editor\""), "status": .keyword("gone"), "price": .number(3)],
                                                               stored: ["name": .string("Emacs \"editor\""), "price": .int(3)]))
        try store.commit(payload: ["file": "binlog.000001", "pos": "4", "server_id": "1"])
        return store
    }

    func testSearchAnswersJSONWithStoredFields() async throws {
        let store = try makeStore()
        let app = Application(router: HTTPAPI.router(snapshot: { store.snapshot() }))
        try await app.test(.router) { client in
            try await client.execute(uri: "/indexes/products/search?q=vim", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                XCTAssertEqual(json?["total"] as? Int, 1)
                let hit = (json?["hits"] as? [[String: Any]])?.first
                XCTAssertEqual(hit?["id"] as? String, "1")
                XCTAssertGreaterThan(hit?["score"] as? Double ?? 0, 0)
                XCTAssertEqual((hit?["fields"] as? [String: Any])?["name"] as? String, "Vim editor")
            }
            try await client.execute(uri: "/indexes/products/search?q=editor&limit=1&offset=1", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                XCTAssertEqual(json?["total"] as? Int, 2)
                XCTAssertEqual((json?["hits"] as? [Any])?.count, 1)
            }
            // Form encoding: `+` is a space, `%2B` a Lucene must.
            try await client.execute(uri: "/indexes/products/search?q=%2Bstatus:active+editor", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                XCTAssertEqual(json?["total"] as? Int, 1)
            }
            try await client.execute(uri: "/indexes/products/search?q=status:gone", method: .get) { response in
                let body = String(buffer: response.body)
                XCTAssertTrue(body.contains(#""name":"Emacs \"editor\"""#), body)
                XCTAssertTrue(body.contains(#""price":3"#), body)
            }
        }
    }

    func testFilterSortAndHighlightParameters() async throws {
        let store = try makeStore()
        let app = Application(router: HTTPAPI.router(snapshot: { store.snapshot() }))
        try await app.test(.router) { client in
            try await client.execute(uri: "/indexes/products/search?q=editor&filter=status:active", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                XCTAssertEqual(json?["total"] as? Int, 1)
                XCTAssertEqual((json?["hits"] as? [[String: Any]])?.first?["id"] as? String, "1")
            }
            for (sort, first) in [("price", "2"), ("-price", "1")] {
                try await client.execute(uri: "/indexes/products/search?q=editor&sort=\(sort)", method: .get) { response in
                    let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    XCTAssertEqual((json?["hits"] as? [[String: Any]])?.first?["id"] as? String, first, "sort=\(sort)")
                }
            }
            try await client.execute(uri: "/indexes/products/search?q=vim&highlight=name", method: .get) { response in
                let json = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                let hit = (json?["hits"] as? [[String: Any]])?.first
                XCTAssertEqual((hit?["highlights"] as? [String: String])?["name"], "<em>Vim</em> editor")
            }
            try await client.execute(uri: "/indexes/products/search?q=vim&sort=status", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertTrue(String(buffer: response.body).contains("only number fields sort"))
            }
            try await client.execute(uri: "/indexes/products/search?q=price:cheap", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest, "a value of the wrong type is the query's fault")
            }
        }
    }

    func testErrors() async throws {
        let store = try makeStore()
        let app = Application(router: HTTPAPI.router(snapshot: { store.snapshot() }))
        try await app.test(.router) { client in
            try await client.execute(uri: "/indexes/products/search?q=(vim", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest)
                XCTAssertTrue(String(buffer: response.body).contains("position"))
            }
            try await client.execute(uri: "/indexes/nope/search?q=vim", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
            }
            try await client.execute(uri: "/indexes/products/search", method: .get) { response in
                XCTAssertEqual(response.status, .badRequest)
            }
            try await client.execute(uri: "/health", method: .get) { response in
                XCTAssertEqual(response.status, .ok)
            }
        }
        let noIndex = Application(router: HTTPAPI.router(snapshot: { nil }))
        try await noIndex.test(.router) { client in
            try await client.execute(uri: "/indexes/products/search?q=vim", method: .get) { response in
                XCTAssertEqual(response.status, .notFound)
            }
        }
    }
}

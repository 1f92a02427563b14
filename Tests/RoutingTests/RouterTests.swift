import BinlogCore
import Routing
import XCTest

final class RouterTests: XCTestCase {
    let config = try! PipelineConfig.parse(yaml: ConfigTests.valid)

    func products(id: UInt64 = 7) -> TableMap {
        TableMap(tableID: id, schema: "shop", table: "products",
                 columnTypes: [3, 15, 252, 246, 15], columnMeta: [0, 200, 2, 0x0a02, 20],
                 nullable: [false, false, true, true, true],
                 columnNames: ["id", "name", "description", "price", "status"], primaryKey: [0])
    }

    func orders() -> TableMap {
        TableMap(tableID: 9, schema: "shop", table: "orders", columnTypes: [3, 3, 246, 12], columnMeta: [0, 0, 0x0c03, 0],
                 nullable: [false, false, true, true], columnNames: ["shop_id", "id", "total", "placed"], primaryKey: [0, 1])
    }

    func txn(_ changes: [RowChange]) -> Transaction {
        Transaction(gtid: "0-1-5", start: BinlogPosition(file: "binlog.000001", offset: 100),
                    end: BinlogPosition(file: "binlog.000001", offset: 900), timestamp: 1_700_000_000, changes: changes)
    }

    func row(_ id: Int64, _ name: String, _ description: String?, _ price: String?, _ status: String?) -> RowImage {
        [.int(id), .string(name), description.map { .string($0) } ?? .null, price.map { .decimal($0) } ?? .null, status.map { .string($0) } ?? .null]
    }

    func testInsertWritesHashAndDocument() throws {
        var router = Router(config: config)
        let out = try router.route(txn([RowChange(kind: .insert, table: products(), before: nil, after: row(1, "Vim", "editor", "12.50", nil))]))
        XCTAssertEqual(out.cache, [.hash(key: "product:1", fields: [("name", "Vim"), ("price", "12.50")], removed: ["status"])])
        XCTAssertEqual(out.end.offset, 900)
        XCTAssertEqual(out.gtid, "0-1-5")
        guard case .upsert(let index, let id, let fields, let stored) = try XCTUnwrap(out.index.first) else { return XCTFail() }
        XCTAssertEqual(index, "products")
        XCTAssertEqual(id, "1")
        XCTAssertEqual(fields.map(\.name), ["name", "description", "status", "price"])
        XCTAssertEqual(fields[3].value, .decimal("12.50"))
        XCTAssertEqual(stored.map(\.name), ["name", "price"])
    }

    /// Resync rows replace their hash whole (DEL first), and so do streamed writes of a
    /// table being resynced online; other tables' writes do not.
    func testReplacingEntries() throws {
        var router = Router(config: config)
        let insert = RowChange(kind: .insert, table: products(), before: nil, after: row(1, "Vim", "editor", "12.50", "a"))
        let whole: [CacheWrite] = [.delete(key: "product:1"), .hash(key: "product:1", fields: [("name", "Vim"), ("price", "12.50"), ("status", "a")], removed: [])]
        XCTAssertEqual(Array(try router.route(txn([insert]), replacingEntries: true).cache), whole)
        XCTAssertEqual(Array(try router.route(txn([insert])).cache), Array(whole.dropFirst()), "a plain route does not delete")
        router.replacingTable = ("shop", "products")
        let update = RowChange(kind: .update, table: products(), before: row(1, "Vim", nil, "1", "a"), after: row(1, "Vim", "editor", "12.50", "a"))
        XCTAssertEqual(Array(try router.route(txn([update])).cache), whole)
        router.replacingTable = ("shop", "other")
        XCTAssertEqual(Array(try router.route(txn([update])).cache), Array(whole.dropFirst()))
    }

    func testUpdateThatChangesTheKeyDeletesTheOldKey() throws {
        var router = Router(config: config)
        let out = try router.route(txn([RowChange(kind: .update, table: products(), before: row(1, "Vim", nil, "1", "a"), after: row(2, "Vim", nil, "1", "a"))]))
        XCTAssertEqual(out.cache, [.delete(key: "product:1"), .hash(key: "product:2", fields: [("name", "Vim"), ("price", "1"), ("status", "a")], removed: [])])
        guard case .delete(_, let oldID) = out.index[0], case .upsert(_, let newID, _, _) = out.index[1] else { return XCTFail() }
        XCTAssertEqual([oldID, newID], ["1", "2"])
    }

    func testDelete() throws {
        var router = Router(config: config)
        let out = try router.route(txn([RowChange(kind: .delete, table: products(), before: row(3, "x", nil, nil, nil), after: nil)]))
        XCTAssertEqual(out.cache, [.delete(key: "product:3")])
        guard case .delete(let index, let id) = try XCTUnwrap(out.index.first) else { return XCTFail() }
        XCTAssertEqual([index, id], ["products", "3"])
    }

    func testJSONModeAndCompositeKey() throws {
        var router = Router(config: config)
        let after: RowImage = [.int(7), .uint(100), .decimal("19.990"), .datetime("2024-02-01 08:30:00")]
        let out = try router.route(txn([RowChange(kind: .insert, table: orders(), before: nil, after: after)]))
        XCTAssertEqual(out.cache, [.string(key: "order:7:100", value: #"{"shop_id":7,"id":100,"total":"19.990","placed":"2024-02-01 08:30:00"}"#)])
        XCTAssertTrue(out.index.isEmpty)
    }

    func testCompositeKeysEscapeTheSeparatorAndTTLAndRenamingApply() throws {
        let yaml = ConfigTests.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      ttl: 60\n      columns: {id: order_id, total: amount}")
        var router = Router(config: try PipelineConfig.parse(yaml: yaml))
        let after: RowImage = [.string(#"a:b\c"#), .uint(100), .decimal("1.000"), .null]
        let out = try router.route(txn([RowChange(kind: .insert, table: orders(), before: nil, after: after)]))
        XCTAssertEqual(out.cache, [.string(key: #"order:a\:b\\c:100"#, value: #"{"order_id":100,"amount":"1.000"}"#, ttl: 60)])
        // One column: nothing to disambiguate, nothing escaped.
        var plain = Router(config: config)
        let p = try plain.route(txn([RowChange(kind: .insert, table: products(), before: nil, after: [.int(1), .string("a:b"), .null, .null, .null])]))
        XCTAssertEqual(p.cache.first?.key, "product:1")
        let q = try plain.route(txn([RowChange(kind: .delete, table: products(), before: [.string("x:y"), .string("a"), .null, .null, .null], after: nil)]))
        XCTAssertEqual(q.cache, [.delete(key: "product:x:y")])
    }

    func testExcludedColumnsAreLeftOut() throws {
        let yaml = ConfigTests.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      exclude_columns: [placed, total]")
        var router = Router(config: try PipelineConfig.parse(yaml: yaml))
        let out = try router.route(txn([RowChange(kind: .insert, table: orders(), before: nil, after: [.int(3), .uint(100), .decimal("1.000"), .null])]))
        XCTAssertEqual(out.cache, [.string(key: "order:3:100", value: #"{"shop_id":3,"id":100}"#, ttl: 0)])
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: ConfigTests.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      columns: [id]\n      exclude_columns: [total]"))) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "tables.shop.orders.redis.exclude_columns")
        }
        XCTAssertNotEqual(MappingFingerprint.all(try PipelineConfig.parse(yaml: yaml), sink: "redis")["shop.orders"],
                          MappingFingerprint.all(config, sink: "redis")["shop.orders"], "excluding a column changes the mapping")
    }

    func testUpdateKeepingItsKeyDeletesNothingAndAllNullHashOnlyRemoves() throws {
        var router = Router(config: config)
        let out = try router.route(txn([RowChange(kind: .update, table: products(), before: row(4, "a", nil, "1", "x"), after: [.int(4), .null, .null, .null, .null])]))
        XCTAssertEqual(out.cache, [.hash(key: "product:4", fields: [], removed: ["name", "price", "status"])])
    }

    /// With `writeChangedFieldsOnly`, an update that keeps its key sets only the fields
    /// whose column changed, removes only those that became NULL, and writes nothing when
    /// no mapped column changed; key changes, resyncs and tables with a TTL still write the
    /// whole entry. The index document is whole either way.
    func testChangedFieldsOnly() throws {
        var router = Router(config: config)
        router.writeChangedFieldsOnly = true
        func update(_ before: RowImage, _ after: RowImage) -> RowChange {
            RowChange(kind: .update, table: products(), before: before, after: after)
        }
        var out = try router.route(txn([update(row(1, "Vim", "editor", "12.50", "a"), row(1, "Vim", "editor", "13.00", nil))]))
        XCTAssertEqual(out.cache, [.hash(key: "product:1", fields: [("price", "13.00")], removed: ["status"])])
        guard case .upsert(_, _, let fields, _) = try XCTUnwrap(out.index.first) else { return XCTFail() }
        XCTAssertEqual(fields.map(\.name), ["name", "description", "status", "price"], "the document is whole")
        out = try router.route(txn([update(row(1, "Vim", "editor", "12.50", nil), row(1, "Vim", "an editor", "12.50", nil))]))
        XCTAssertEqual(out.cache, [], "description is not in the hash: nothing to write")
        XCTAssertEqual(out.index.count, 1, "but it is in the document")
        out = try router.route(txn([update(row(1, "Vim", nil, nil, "a"), row(1, "Vim", nil, "2", "a"))]))
        XCTAssertEqual(out.cache, [.hash(key: "product:1", fields: [("price", "2")], removed: [])], "NULL → value sets it; NULL → NULL is left alone")
        out = try router.route(txn([update(row(1, "Vim", nil, "1", "a"), row(2, "Vim", nil, "1", "a"))]))
        XCTAssertEqual(out.cache, [.delete(key: "product:1"), .hash(key: "product:2", fields: [("name", "Vim"), ("price", "1"), ("status", "a")], removed: [])],
                       "a new key gets the whole entry")
        router.replacingTable = ("shop", "products")
        out = try router.route(txn([update(row(1, "Vim", nil, "1", "a"), row(1, "Vim", nil, "2", "a"))]))
        XCTAssertEqual(out.cache, [.delete(key: "product:1"), .hash(key: "product:1", fields: [("name", "Vim"), ("price", "2"), ("status", "a")], removed: [])],
                       "a table being resynced is written whole")
        router.replacingTable = nil
        var ttl = Router(config: try PipelineConfig.parse(yaml: ConfigTests.valid.replacingOccurrences(of: "mode: hash", with: "mode: hash\n      ttl: 60")))
        ttl.writeChangedFieldsOnly = true
        out = try ttl.route(txn([update(row(1, "Vim", nil, "1", "a"), row(1, "Vim", nil, "2", "a"))]))
        XCTAssertEqual(out.cache, [.hash(key: "product:1", fields: [("name", "Vim"), ("price", "2"), ("status", "a")], removed: [], ttl: 60)],
                       "an entry that may expire is written whole")
        router.writeChangedFieldsOnly = false
        out = try router.route(txn([update(row(1, "Vim", nil, "1", "a"), row(1, "Vim", nil, "1", "a"))]))
        XCTAssertEqual(out.cache, [.hash(key: "product:1", fields: [("name", "Vim"), ("price", "1"), ("status", "a")], removed: [])], "off: every field")
    }

    func testCacheWritesAppendKeepsEveryWrite() {
        var a: CacheWrites = [.hash(key: "k1", fields: [("f", "v")], removed: ["g"], ttl: 5), .delete(key: "k2")]
        let b: CacheWrites = [.string(key: "k3", value: "{}"), .hash(key: "k4", fields: [("x", "")], removed: [])]
        XCTAssertEqual(a.commandCount, 4)  // HSET + HDEL + EXPIRE, DEL
        a.append(contentsOf: b)
        XCTAssertEqual(a.commandCount, 6)
        XCTAssertEqual(Array(a), [.hash(key: "k1", fields: [("f", "v")], removed: ["g"], ttl: 5), .delete(key: "k2"),
                                  .string(key: "k3", value: "{}"), .hash(key: "k4", fields: [("x", "")], removed: [])])
        XCTAssertNotEqual(a, b)
    }

    func testUnmappedTablesProduceNothing() throws {
        var router = Router(config: config)
        let other = TableMap(tableID: 11, schema: "shop", table: "audit", columnTypes: [3], columnMeta: [0], nullable: [false], columnNames: ["id"])
        let out = try router.route(txn([RowChange(kind: .insert, table: other, before: nil, after: [.int(1)])]))
        XCTAssertTrue(out.cache.isEmpty && out.index.isEmpty)
        XCTAssertEqual(out.rowCount, 1)
        XCTAssertFalse(router.isMapped(schema: "shop", table: "audit"))
    }

    static let patterns = """
        name: shop
        source: {host: 127.0.0.1, user: repl, server_id: 4201}
        redis: {url: "redis://127.0.0.1:6379/0"}
        tables:
          shop.orders:
            redis: {key: "order:{id}"}
          shop.*:
            redis: {key: "{@db}.{@table}:{id}", mode: json}
          shard_?.orders:
            redis: {key: "order:{@db}:{id}:{@table}:{code}"}
        exclude_tables: ["shop.audit_*", "shop.tmp"]
        """

    func testTablePatternsExclusionsAndNamePlaceholders() throws {
        let config = try PipelineConfig.parse(yaml: Self.patterns)
        var router = Router(config: config)
        func map(_ id: UInt64, _ schema: String, _ table: String) -> TableMap {
            TableMap(tableID: id, schema: schema, table: table, columnTypes: [3, 15], columnMeta: [0, 20], nullable: [false, false],
                     columnNames: ["id", "code"], primaryKey: [0])
        }
        func keys(_ m: TableMap) throws -> [String] {
            try router.route(txn([RowChange(kind: .delete, table: m, before: [.int(5), .string("a:b")], after: nil)])).cache.map {
                if case .delete(let key) = $0 { return key } else { return "?" }
            }
        }
        // The exact name wins over the pattern that also matches it.
        XCTAssertEqual(try keys(map(1, "shop", "orders")), ["order:5"])
        XCTAssertEqual(try keys(map(2, "shop", "customers")), ["shop.customers:5"])
        // Excluded by `shop.audit_*` and `shop.tmp`; `shop.tmp2` is not.
        XCTAssertEqual(try keys(map(3, "shop", "audit_log")), [])
        XCTAssertEqual(try keys(map(4, "shop", "tmp")), [])
        XCTAssertEqual(try keys(map(5, "shop", "tmp2")), ["shop.tmp2:5"])
        // `?` is one character; in a template of several columns, the literal text between
        // them (here the database and table names too) is escaped in column values.
        XCTAssertEqual(try keys(map(6, "shard_1", "orders")), ["order:shard_1:5:orders:a\\:b"])
        XCTAssertEqual(try keys(map(7, "shard_12", "orders")), [])
        XCTAssertFalse(router.isMapped(schema: "shop", table: "audit_x"))
        XCTAssertTrue(router.isMapped(schema: "shop", table: "x"))
        let resolved = config.resolve(existing: ["shop.orders", "shop.a", "shop.audit_1", "shard_2.orders", "other.orders"])
        XCTAssertEqual(resolved.map(\.qualifiedName), ["shop.orders", "shard_2.orders", "shop.a"])
        XCTAssertEqual(resolved.map(\.keyPath), ["tables.shop.orders", "tables.shard_?.orders", "tables.shop.*"])
        // Fingerprints are per config key, so a pattern's change names the pattern.
        XCTAssertEqual(Set(MappingFingerprint.all(config, sink: "redis").keys), ["shop.orders", "shop.*", "shard_?.orders"])
    }

    func testTablePatternGlob() {
        XCTAssertTrue(TablePattern.matches("a*b.*", schema: "axxb", table: ""))
        XCTAssertTrue(TablePattern.matches("*.t?", schema: "db", table: "t1"))
        XCTAssertFalse(TablePattern.matches("*.t?", schema: "db", table: "t"))
        XCTAssertTrue(TablePattern.matches("d*b*c.t", schema: "dbbbc", table: "t"))
        XCTAssertFalse(TablePattern.matches("d*b*c.t", schema: "dbbbcx", table: "t"))
        XCTAssertFalse(TablePattern.matches("Shop.t", schema: "shop", table: "t"))
    }

    func testPatternMappingsAreValidatedPerMatchingTable() throws {
        let config = try PipelineConfig.parse(yaml: Self.patterns)
        let ok = TableSchema(schema: "shop", table: "a", columns: ["id", "code"], dataTypes: ["int", "varchar"], primaryKey: ["id"])
        let bad = TableSchema(schema: "shard_3", table: "orders", columns: ["id"], dataTypes: ["int"], primaryKey: ["id"])
        let orders = TableSchema(schema: "shop", table: "orders", columns: ["id"], dataTypes: ["int"], primaryKey: ["id"])
        XCTAssertNoThrow(try config.validate(against: ["shop.orders": orders, "shop.a": ok]))
        XCTAssertThrowsError(try config.validate(against: ["shop.orders": orders, "shop.a": ok, "shard_3.orders": bad])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("tables.shard_?.orders.redis.key"), text)
            XCTAssertTrue(text.contains("column `code` does not exist in shard_3.orders"), text)
        }
    }

    func testDroppedColumnIsALoudError() throws {
        var router = Router(config: config)
        var map = products()
        map.columnNames = ["id", "name", "description", "cost", "status"]
        XCTAssertThrowsError(try router.route(txn([RowChange(kind: .insert, table: map, before: nil, after: row(1, "a", nil, nil, nil))]))) { error in
            XCTAssertTrue("\(error)".contains("column `price`"), "\(error)")
            XCTAssertTrue("\(error)".contains("resync"), "\(error)")
        }
    }

    func testMissingColumnNamesNameTheSetting() throws {
        var router = Router(config: config)
        var map = products()
        map.columnNames = nil
        XCTAssertThrowsError(try router.route(txn([RowChange(kind: .insert, table: map, before: nil, after: row(1, "a", nil, nil, nil))]))) { error in
            XCTAssertTrue("\(error)".contains("binlog_row_metadata = FULL"), "\(error)")
        }
    }

    func testNullKeyColumnIsALoudError() throws {
        var router = Router(config: config)
        var values = row(1, "a", nil, nil, nil).values
        values[0] = .null
        let after = RowImage(values)
        XCTAssertThrowsError(try router.route(txn([RowChange(kind: .insert, table: products(), before: nil, after: after)]))) { error in
            XCTAssertTrue("\(error)".contains("is NULL"), "\(error)")
        }
    }

    func testPlanIsRebuiltWhenColumnsChange() throws {
        var router = Router(config: config)
        _ = try router.route(txn([RowChange(kind: .insert, table: products(), before: nil, after: row(1, "a", nil, "1", "s"))]))
        // Same table id, a column added in front (DDL): names decide, not positions.
        let widened = TableMap(tableID: 7, schema: "shop", table: "products", columnTypes: [3, 3, 15, 252, 246, 15],
                               columnMeta: [0, 0, 200, 2, 0x0a02, 20], nullable: [true, false, false, true, true, true],
                               columnNames: ["extra", "id", "name", "description", "price", "status"], primaryKey: [1])
        let out = try router.route(txn([RowChange(kind: .insert, table: widened, before: nil, after: [.int(99), .int(2), .string("b"), .null, .decimal("2"), .string("t")])]))
        XCTAssertEqual(out.cache, [.hash(key: "product:2", fields: [("name", "b"), ("price", "2"), ("status", "t")], removed: [])])
    }
}

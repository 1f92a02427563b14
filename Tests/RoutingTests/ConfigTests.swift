import BinlogCore
import Routing
import XCTest

final class ConfigTests: XCTestCase {
    static let valid = """
        name: shop
        source:
          host: 127.0.0.1
          port: 3306
          user: repl
          password_env: PW
          server_id: 4201
          start: {file: binlog.000002, pos: 4}
        redis:
          url: redis://127.0.0.1:6379/0
        index:
          path: ./data/index
        http:
          listen: 127.0.0.1:7701
        tables:
          shop.products:
            redis:
              key: "product:{id}"
              mode: hash
              columns: [name, price, status]
            index:
              name: products
              fields: {name: text, description: text, status: keyword, price: number}
              stored: [name, price]
          shop.orders:
            redis:
              key: "order:{shop_id}:{id}"
              mode: json
        """

    func testParsesEveryKey() throws {
        let c = try PipelineConfig.parse(yaml: Self.valid)
        XCTAssertEqual(c.name, "shop")
        XCTAssertEqual(c.source.port, 3306)
        XCTAssertEqual(c.source.passwordEnv, "PW")
        XCTAssertEqual(c.source.serverID, 4201)
        XCTAssertEqual(c.source.start, .position(file: "binlog.000002", offset: 4))
        XCTAssertEqual(c.source.snapshot, .never)
        XCTAssertEqual(c.redis?.url, "redis://127.0.0.1:6379/0")
        XCTAssertEqual(c.index?.path, "./data/index")
        XCTAssertEqual(c.http.port, 7701)
        XCTAssertEqual(c.tables.map(\.qualifiedName), ["shop.products", "shop.orders"])
        let products = try XCTUnwrap(c.mapping(schema: "shop", table: "products"))
        XCTAssertEqual(products.redis?.mode, .hash)
        XCTAssertEqual(products.redis?.columns, ["name", "price", "status"])
        XCTAssertEqual(products.index?.fields.map { "\($0.name):\($0.kind)" }, ["name:text", "description:text", "status:keyword", "price:number"])
        XCTAssertEqual(c.mapping(schema: "shop", table: "orders")?.redis?.key.columns, ["shop_id", "id"])
    }

    func testIndexFieldsLongFormWithStemmingAndStopWords() throws {
        let yaml = Self.valid.replacingOccurrences(
            of: "fields: {name: text, description: text, status: keyword, price: number}",
            with: "fields: {name: text, description: {type: text, stem: english, stop_words: english}, status: {type: keyword}, price: number}")
        let c = try PipelineConfig.parse(yaml: yaml)
        let index = try XCTUnwrap(c.mapping(schema: "shop", table: "products")?.index)
        XCTAssertEqual(index.fields.map { "\($0.name):\($0.kind)" }, ["name:text", "description:text", "status:keyword", "price:number"])
        XCTAssertEqual(index.analysis, ["description": IndexTextAnalysis(stem: .english, stopWords: .english)])
        assertError(
            Self.valid.replacingOccurrences(of: "status: keyword,", with: "status: {type: keyword, stem: english},"),
            path: "tables.shop.products.index.fields.status", contains: "text fields only")
        assertError(
            Self.valid.replacingOccurrences(of: "name: text,", with: "name: {type: text, stem: french},"),
            path: "tables.shop.products.index.fields.name.stem", contains: "english")
        assertError(
            Self.valid.replacingOccurrences(of: "name: text,", with: "name: {stem: english},"),
            path: "tables.shop.products.index.fields.name.type", contains: "type")
    }

    private func assertError(_ yaml: String, path: String, contains needle: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: yaml), file: file, line: line) { error in
            guard let e = error as? ConfigError else { return XCTFail("not a ConfigError: \(error)", file: file, line: line) }
            XCTAssertEqual(e.keyPath, path, file: file, line: line)
            XCTAssertTrue(e.description.contains(needle), "\(e.description) lacks \(needle)", file: file, line: line)
            XCTAssertTrue(e.description.contains("`\(path)`") || path.isEmpty, file: file, line: line)
        }
    }

    func testChangedFieldsOnlyIsOptIn() throws {
        XCTAssertFalse(try PipelineConfig.parse(yaml: Self.valid).redis?.changedFieldsOnly ?? true)
        let on = Self.valid.replacingOccurrences(of: "  url: redis://127.0.0.1:6379/0\n", with: "  url: redis://127.0.0.1:6379/0\n  changed_fields_only: true\n")
        XCTAssertTrue(try PipelineConfig.parse(yaml: on).redis?.changedFieldsOnly ?? false)
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: on.replacingOccurrences(of: "changed_fields_only: true", with: "changed_fields_only: maybe"))) {
            XCTAssertTrue("\($0)".contains("redis.changed_fields_only"), "\($0)")
        }
    }

    func testResyncOnDDLAndWatermarkTable() throws {
        let defaults = try PipelineConfig.parse(yaml: Self.valid)
        XCTAssertTrue(defaults.source.resyncOnDDL)
        XCTAssertEqual(defaults.source.watermarkTable, "distributary.watermarks")
        XCTAssertEqual(defaults.source.snapshotThreads, 4)
        let off = Self.valid.replacingOccurrences(of: "  server_id: 4201\n", with: "  server_id: 4201\n  resync_on_ddl: false\n  watermark_table: ops.wm\n  snapshot_threads: 1\n")
        let parsed = try PipelineConfig.parse(yaml: off)
        XCTAssertFalse(parsed.source.resyncOnDDL)
        XCTAssertEqual(parsed.source.snapshotThreads, 1)
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: "  server_id: 4201\n", with: "  server_id: 4201\n  snapshot_threads: 0\n"))) {
            XCTAssertTrue("\($0)".contains("source.snapshot_threads") && "\($0)".contains("from 1 to 64"), "\($0)")
        }
        XCTAssertEqual(parsed.source.watermarkTable, "ops.wm")
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: "  server_id: 4201\n", with: "  server_id: 4201\n  resync_on_ddl: sometimes\n"))) {
            XCTAssertTrue("\($0)".contains("source.resync_on_ddl"), "\($0)")
        }
    }

    func testTableFilterErrors() {
        let base = """
            name: shop
            source: {host: 127.0.0.1, user: repl, server_id: 4201}
            redis: {url: "redis://127.0.0.1:6379/0"}
            tables:
              shop.orders: {redis: {key: "o:{id}"}}

            """
        assertError(base + "exclude_tables: [\"shop.x\"]\n", path: "exclude_tables", contains: "no `tables:` key is a pattern")
        let withPattern = base.replacingOccurrences(of: "tables:\n", with: "tables:\n  shop.*: {redis: {key: \"{@table}:{id}\"}}\n")
        assertError(withPattern + "exclude_tables: [\"shop.ord*\"]\n", path: "exclude_tables[0]", contains: "excludes shop.orders, which `tables:` maps by name")
        assertError(withPattern + "exclude_tables: [\"nodot\"]\n", path: "exclude_tables[0]", contains: "written `database.table`")
        assertError(base.replacingOccurrences(of: "o:{id}", with: "o:{@schema}:{id}"), path: "tables.shop.orders.redis.key", contains: "unknown placeholder `{@schema}`")
        assertError(base.replacingOccurrences(of: "o:{id}", with: "o:{@table}"), path: "tables.shop.orders.redis.key", contains: "names no column")
    }

    func testUnknownKeyNamesPathAndSuggestion() {
        assertError(Self.valid.replacingOccurrences(of: "  host:", with: "  hots:"), path: "source.hots", contains: "unknown key")
        assertError(Self.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      expire: 5"),
                    path: "tables.shop.orders.redis.expire", contains: "allowed here")
        assertError(Self.valid.replacingOccurrences(of: "server_id", with: "serverid"), path: "source.serverid", contains: "did you mean `server_id`")
    }

    func testTTLRenamingAndBatchBounds() throws {
        let yaml = Self.valid
            .replacingOccurrences(of: "mode: json", with: "mode: json\n      ttl: 3600\n      columns: {id: order_id, total: amount}")
            .replacingOccurrences(of: "  url: redis://127.0.0.1:6379/0", with: "  url: redis://127.0.0.1:6379/0\n  batch: {commands: 500, bytes: 65536, ms: 20}")
        let c = try PipelineConfig.parse(yaml: yaml)
        let orders = try XCTUnwrap(c.mapping(schema: "shop", table: "orders")?.redis)
        XCTAssertEqual(orders.ttl, 3600)
        XCTAssertEqual(orders.columns, ["id", "total"])
        XCTAssertEqual(orders.fieldNames, ["order_id", "amount"])
        XCTAssertEqual(c.redis?.batchCommands, 500)
        XCTAssertEqual(c.redis?.batchBytes, 65536)
        XCTAssertEqual(c.redis?.batchMilliseconds, 20)
        let defaults = try PipelineConfig.parse(yaml: Self.valid)
        XCTAssertEqual(defaults.redis?.batchCommands, 2_000)
        XCTAssertNil(defaults.mapping(schema: "shop", table: "orders")?.redis?.ttl)
        assertError(Self.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      ttl: 0"),
                    path: "tables.shop.orders.redis.ttl", contains: "from 1")
        assertError(Self.valid.replacingOccurrences(of: "mode: json", with: "mode: json\n      columns: {id: x, total: x}"),
                    path: "tables.shop.orders.redis.columns", contains: "renamed to `x`")
        assertError(Self.valid.replacingOccurrences(of: "  url: redis://127.0.0.1:6379/0", with: "  url: redis://127.0.0.1:6379/0\n  batch: {rows: 5}"),
                    path: "redis.batch.rows", contains: "unknown key")
    }

    func testRedisCluster() throws {
        let url = "  url: redis://127.0.0.1:6379/0"
        let c = try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: url, with: "  url: redis://127.0.0.1:7001\n  cluster: true"))
        XCTAssertEqual(c.redis?.cluster, true)
        XCTAssertEqual(try PipelineConfig.parse(yaml: Self.valid).redis?.cluster, false)
        assertError(Self.valid.replacingOccurrences(of: url, with: "  url: redis://127.0.0.1:7001/3\n  cluster: true"),
                    path: "redis.url", contains: "only database 0")
        assertError(Self.valid.replacingOccurrences(of: url, with: "  url: redis://u:p/1@127.0.0.1:7001/3\n  cluster: yes please"),
                    path: "redis.cluster", contains: "true or false")
        XCTAssertEqual(try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: url, with: "  url: redis://u:p/1@127.0.0.1:7001\n  cluster: true")).redis?.cluster, true)
    }

    func testEnvironmentInterpolation() throws {
        let env = ["REDIS_URL": "redis://:s3cr$t@10.0.0.5:6380/0", "SID": "77", "EMPTY": ""]
        let yaml = Self.valid
            .replacingOccurrences(of: "  url: redis://127.0.0.1:6379/0", with: "  url: ${REDIS_URL}")
            .replacingOccurrences(of: "server_id: 4201", with: "server_id: ${SID}")
            .replacingOccurrences(of: "host: 127.0.0.1", with: "host: ${DB_HOST:-db.internal}")
        let c = try PipelineConfig.parse(yaml: yaml, environment: { env[$0] })
        XCTAssertEqual(c.redis?.url, "redis://:s3cr$t@10.0.0.5:6380/0", "a value's own $ is not expanded again")
        XCTAssertEqual(c.source.serverID, 77)
        XCTAssertEqual(c.source.host, "db.internal")
        let literal = try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: "host: 127.0.0.1", with: "host: a$$b$c"), environment: { _ in nil })
        XCTAssertEqual(literal.source.host, "a$b$c")
        do {
            _ = try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: "server_id: 4201", with: "server_id: ${NOPE}"), environment: { _ in nil })
            XCTFail("an unset variable must be an error")
        } catch let error as ConfigError {
            XCTAssertEqual(error.keyPath, "source.server_id")
            XCTAssertTrue(error.message.contains("NOPE is not set"), error.message)
        }
        assertError(Self.valid.replacingOccurrences(of: "host: 127.0.0.1", with: "host: ${bad name}"), path: "source.host", contains: "not a variable reference")
    }

    func testMappingFingerprints() throws {
        let base = try PipelineConfig.parse(yaml: Self.valid)
        let redis = MappingFingerprint.all(base, sink: "redis")
        XCTAssertEqual(Set(redis.keys), ["shop.products", "shop.orders"])
        XCTAssertEqual(MappingFingerprint.decode(MappingFingerprint.encode(redis)), redis)
        XCTAssertEqual(redis.values.map(\.count), [16, 16])
        // Same text, same fingerprint; a changed key template, mode, TTL or column list changes it.
        XCTAssertEqual(MappingFingerprint.all(try PipelineConfig.parse(yaml: Self.valid), sink: "redis"), redis)
        for edit in [("product:{id}", "p:{id}"), ("mode: json", "mode: hash"), ("mode: json", "mode: json\n      ttl: 60")] {
            let changed = MappingFingerprint.all(try PipelineConfig.parse(yaml: Self.valid.replacingOccurrences(of: edit.0, with: edit.1)), sink: "redis")
            XCTAssertEqual(MappingFingerprint.stale(stored: redis, current: changed).count, 1, "\(edit)")
        }
        XCTAssertEqual(MappingFingerprint.stale(stored: [:], current: redis), ["shop.orders", "shop.products"], "new mappings are stale")
        XCTAssertEqual(MappingFingerprint.stale(stored: redis, current: redis), [])
    }

    func testMissingRequiredKey() {
        assertError(Self.valid.replacingOccurrences(of: "  server_id: 4201\n", with: ""), path: "source.server_id", contains: "required")
        assertError(Self.valid.replacingOccurrences(of: "      key: \"product:{id}\"\n", with: ""), path: "tables.shop.products.redis.key", contains: "required")
        assertError(Self.valid.replacingOccurrences(of: "name: shop\n", with: ""), path: "name", contains: "required")
    }

    func testWrongValues() {
        assertError(Self.valid.replacingOccurrences(of: "mode: hash", with: "mode: hashh"), path: "tables.shop.products.redis.mode", contains: "hash, json, invalidate")
        assertError(Self.valid.replacingOccurrences(of: "port: 3306", with: "port: many"), path: "source.port", contains: "whole number")
        assertError(Self.valid.replacingOccurrences(of: "price: number}", with: "price: numeric}"), path: "tables.shop.products.index.fields.price", contains: "text, keyword, number")
        assertError(Self.valid.replacingOccurrences(of: "\"product:{id}\"", with: "\"product:{id\""), path: "tables.shop.products.redis.key", contains: "unclosed")
        assertError(Self.valid.replacingOccurrences(of: "\"product:{id}\"", with: "\"product\""), path: "tables.shop.products.redis.key", contains: "names no column")
        assertError(Self.valid.replacingOccurrences(of: "shop.orders:", with: "orders:"), path: "tables.orders", contains: "database.table")
        assertError(Self.valid.replacingOccurrences(of: "listen: 127.0.0.1:7701", with: "listen: localhost"), path: "http.listen", contains: "host:port")
        assertError(Self.valid.replacingOccurrences(of: "{file: binlog.000002, pos: 4}", with: "{file: binlog.000002}"), path: "source.start", contains: "both `file` and `pos`")
    }

    func testSinkSectionsMustExist() {
        let noRedis = Self.valid.replacingOccurrences(of: "redis:\n  url: redis://127.0.0.1:6379/0\n", with: "")
        assertError(noRedis, path: "tables.shop.products.redis", contains: "no top-level `redis:`")
    }

    func testNotYAML() {
        XCTAssertThrowsError(try PipelineConfig.parse(yaml: "name: [unclosed")) { error in
            XCTAssertTrue("\(error)".contains("not valid YAML"))
        }
    }

    func testValidateAgainstSchemas() throws {
        let c = try PipelineConfig.parse(yaml: Self.valid)
        let products = TableSchema(schema: "shop", table: "products", columns: ["id", "name", "description", "price", "status"],
                                   dataTypes: ["int", "varchar", "text", "decimal", "varchar"], primaryKey: ["id"])
        let orders = TableSchema(schema: "shop", table: "orders", columns: ["shop_id", "id", "total"],
                                 dataTypes: ["int", "int", "decimal"], primaryKey: ["shop_id", "id"])
        XCTAssertNoThrow(try c.validate(against: ["shop.products": products, "shop.orders": orders]))

        var missingColumn = products
        missingColumn.columns[3] = "prize"
        XCTAssertThrowsError(try c.validate(against: ["shop.products": missingColumn, "shop.orders": orders])) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "tables.shop.products.redis.columns[1]")
            XCTAssertTrue("\(error)".contains("column `price` does not exist in shop.products"))
        }
        XCTAssertThrowsError(try c.validate(against: ["shop.products": products])) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "tables.shop.orders")
            XCTAssertTrue("\(error)".contains("does not exist on the source"))
        }
        var noKey = products
        noKey.primaryKey = []
        XCTAssertThrowsError(try c.validate(against: ["shop.products": noKey, "shop.orders": orders])) { error in
            XCTAssertEqual((error as? ConfigError)?.keyPath, "tables.shop.products.index")
        }
    }
}

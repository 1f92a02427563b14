import BinlogCore
import MySQLSource
import XCTest

/// The replica connection against a real MariaDB: raw events from the server decode
/// into the rows that were written (read back independently through `mariadb`).
final class BinlogStreamTests: XCTestCase {
    func options() throws -> ConnectionOptions {
        let db = try ServerEnvironment.mariadb()
        return ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password)
    }

    func testStreamsAndDecodesCommittedRows() throws {
        let options = try options()
        try ServerEnvironment.sql("""
            CREATE DATABASE IF NOT EXISTS stream_test; DROP TABLE IF EXISTS stream_test.t;
            CREATE TABLE stream_test.t (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2), d DATE, ts DATETIME(6));
            """)
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        let start = try inspector.currentPosition()
        try ServerEnvironment.sql("""
            INSERT INTO stream_test.t VALUES (1, 'ünïcode', -1.05, '2024-02-29', '2024-01-31 10:00:00.123456');
            UPDATE stream_test.t SET name = NULL WHERE id = 1;
            DELETE FROM stream_test.t WHERE id = 1;
            START TRANSACTION;
            INSERT INTO stream_test.t VALUES (2, 'a', 1, NULL, NULL);
            INSERT INTO stream_test.t VALUES (3, 'b', 2, NULL, NULL);
            UPDATE stream_test.t SET price = 3 WHERE id = 2;
            COMMIT;
            """)
        let end = try inspector.currentPosition()
        XCTAssertEqual(try ServerEnvironment.sql("SELECT COUNT(*) FROM stream_test.t").trimmingCharacters(in: .whitespacesAndNewlines), "2")

        let stream = try BinlogStream(options: options, replicaServerID: 4999, start: start)
        var decoder = EventDecoder()
        var assembler = TransactionAssembler()
        var transactions: [Transaction] = []
        while transactions.count < 4 {
            _ = try stream.next { bytes in
                if let t = try assembler.consume(try decoder.decode(bytes)) { transactions.append(t) }
            }
        }
        // Autocommit statements are one transaction each; the explicit one stays whole.
        XCTAssertEqual(transactions.map(\.changes.count), [1, 1, 1, 3])
        let changes = transactions.flatMap(\.changes)
        XCTAssertEqual(changes.map(\.kind), [.insert, .update, .delete, .insert, .insert, .update])
        XCTAssertEqual(changes[0].table.columnNames, ["id", "name", "price", "d", "ts"])
        XCTAssertEqual(changes[0].after?.compactMap { $0 }, [.int(1), .string("ünïcode"), .decimal("-1.05"), .date("2024-02-29"), .datetime("2024-01-31 10:00:00.123456")])
        XCTAssertEqual(changes[1].after?[1], .null)
        XCTAssertEqual(transactions.last?.end, end)
        XCTAssertNotNil(transactions.first?.gtid)
        XCTAssertTrue(transactions.first!.start >= start)
    }

    func testSettingsCheckNamesEveryFix() throws {
        let options = try options()
        try ServerEnvironment.sql("SET GLOBAL binlog_row_image = 'MINIMAL'")
        defer { _ = try? ServerEnvironment.sql("SET GLOBAL binlog_row_image = 'FULL'") }
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        XCTAssertThrowsError(try inspector.checkSettings(replicaServerID: 4999)) { error in
            XCTAssertTrue("\(error)".contains("binlog_row_image is MINIMAL"), "\(error)")
            XCTAssertTrue("\(error)".contains("SET GLOBAL binlog_row_image = 'FULL'"), "\(error)")
        }
        try ServerEnvironment.sql("SET GLOBAL binlog_row_image = 'FULL'")
        XCTAssertThrowsError(try inspector.checkSettings(replicaServerID: 1)) { error in
            XCTAssertTrue("\(error)".contains("source.server_id"), "\(error)")
        }
        XCTAssertNoThrow(try inspector.checkSettings(replicaServerID: 4999))
    }

    func testPurgedOrUnknownFileIsAClearError() throws {
        let inspector = SourceInspector(connection: try MySQLConnection(try options()))
        XCTAssertThrowsError(try inspector.resolve(.position(BinlogPosition(file: "binlog.999999", offset: 4)))) { error in
            XCTAssertTrue("\(error)".contains("purged"), "\(error)")
        }
    }

    func testWrongPasswordNamesTheSetting() throws {
        var options = try options()
        options.password = "wrong"
        XCTAssertThrowsError(try MySQLConnection(options)) { error in
            XCTAssertTrue("\(error)".contains("password_env"), "\(error)")
        }
    }

    func testSchemaLookup() throws {
        try ServerEnvironment.sql("""
            CREATE DATABASE IF NOT EXISTS stream_test; DROP TABLE IF EXISTS stream_test.k;
            CREATE TABLE stream_test.k (b INT, a INT, c TEXT, PRIMARY KEY (a, b));
            """)
        let inspector = SourceInspector(connection: try MySQLConnection(try options()))
        let schema = try XCTUnwrap(try inspector.tableSchema(schema: "stream_test", table: "k"))
        XCTAssertEqual(schema.columns, ["b", "a", "c"])
        XCTAssertEqual(schema.primaryKey, ["a", "b"])
        XCTAssertEqual(schema.dataTypes, ["int", "int", "text"])
        XCTAssertNil(try inspector.tableSchema(schema: "stream_test", table: "nope"))
    }
}

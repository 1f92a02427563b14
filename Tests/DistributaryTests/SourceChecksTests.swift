import Foundation
import MySQLSource
import Routing
import XCTest

/// Start-up checks of the source against a real MariaDB (privileges, server_id in use,
/// connection options), and the `source.*` configuration keys they read.
final class SourceChecksTests: XCTestCase {
    func testMissingPrivilegesNameEachGrant() throws {
        let db = try ServerEnvironment.mariadb()
        try ServerEnvironment.sql("""
            CREATE DATABASE IF NOT EXISTS priv_test; CREATE TABLE IF NOT EXISTS priv_test.t (id INT PRIMARY KEY);
            DROP USER IF EXISTS 'weak'@'127.0.0.1'; CREATE USER 'weak'@'127.0.0.1' IDENTIFIED BY 'weakpw';
            GRANT SELECT ON mysql.* TO 'weak'@'127.0.0.1';
            """)
        defer { _ = try? ServerEnvironment.sql("DROP USER IF EXISTS 'weak'@'127.0.0.1'") }
        let weak = ConnectionOptions(host: "127.0.0.1", port: db.port, user: "weak", password: "weakpw")
        let inspector = SourceInspector(connection: try MySQLConnection(weak))
        XCTAssertThrowsError(try inspector.checkPrivileges(tables: [("priv_test", "t")])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("GRANT REPLICATION CLIENT ON *.* TO 'weak'@'127.0.0.1'"), text)
            XCTAssertTrue(text.contains("GRANT SELECT ON priv_test.* TO 'weak'@'127.0.0.1'"), text)
        }
        try ServerEnvironment.sql("GRANT BINLOG MONITOR, SELECT ON *.* TO 'weak'@'127.0.0.1'")
        let again = SourceInspector(connection: try MySQLConnection(weak))
        XCTAssertThrowsError(try again.checkPrivileges(tables: [("priv_test", "t")])) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("lacks REPLICATION SLAVE"), text)
            XCTAssertTrue(text.contains("GRANT REPLICATION SLAVE ON *.* TO 'weak'@'127.0.0.1'"), text)
            XCTAssertFalse(text.contains("REPLICATION CLIENT"), text)
        }
        try ServerEnvironment.sql("GRANT REPLICATION SLAVE ON *.* TO 'weak'@'127.0.0.1'")
        XCTAssertNoThrow(try SourceInspector(connection: try MySQLConnection(weak)).checkPrivileges(tables: [("priv_test", "t")]))
    }

    /// The GTID position at the end of the log is read from `@@gtid_binlog_pos` (no scan of
    /// the binlog): it equals what BINLOG_GTID_POS gives for the same position, before and
    /// after more transactions; a position before the end is still scanned.
    func testGTIDPositionAtTheEndOfTheLogEqualsTheScannedOne() throws {
        let db = try ServerEnvironment.mariadb()
        let inspector = SourceInspector(connection: try MySQLConnection(
            ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password)))
        try ServerEnvironment.sql("CREATE DATABASE IF NOT EXISTS gtid_pos_test; CREATE TABLE IF NOT EXISTS gtid_pos_test.t (id INT PRIMARY KEY)")
        defer { _ = try? ServerEnvironment.sql("DROP DATABASE IF EXISTS gtid_pos_test") }
        let before = try inspector.currentPosition()
        let atBefore = try inspector.gtidPosition(at: before)
        XCTAssertEqual(atBefore, try inspector.scannedGTIDPosition(at: before))
        try ServerEnvironment.sql("INSERT INTO gtid_pos_test.t VALUES (1); INSERT INTO gtid_pos_test.t VALUES (2)")
        let after = try inspector.currentPosition()
        XCTAssertGreaterThan(after, before)
        let atAfter = try inspector.gtidPosition(at: after)
        XCTAssertEqual(atAfter, try inspector.scannedGTIDPosition(at: after))
        XCTAssertNotEqual(atAfter, atBefore, "two transactions later")
        XCTAssertEqual(try inspector.gtidPosition(at: before), atBefore, "a position before the end: scanned")
    }

    func testServerIDCheckMessage() throws {
        let db = try ServerEnvironment.mariadb()
        let options = ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password)
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        let start = try inspector.currentPosition()
        let stream = try BinlogStream(options: options, replicaServerID: 4778, from: .position(start), reportHost: "distributary-someone")
        _ = try stream.next { _ in }
        do {
            if let warning = try inspector.checkServerIDUnused(4778, ownHost: "distributary-me") {
                throw XCTSkip("the test user cannot run SHOW SLAVE HOSTS: \(warning)")
            }
            XCTFail("server_id 4778 is in use but the check passed")
        } catch let error as SourceError {
            XCTAssertTrue(error.message.contains("source.server_id 4778 is already used by the replica distributary-someone"), error.message)
            XCTAssertTrue(error.message.contains("give source.server_id a value"), error.message)
        }
        XCTAssertNil(try inspector.checkServerIDUnused(4778, ownHost: "distributary-someone"), "our own lingering registration is not a conflict")
        XCTAssertNil(try inspector.checkServerIDUnused(4779, ownHost: "distributary-me"))
    }

    func testUnixSocketAndRequiredTLS() throws {
        let db = try ServerEnvironment.mariadb()
        let viaSocket = ConnectionOptions(host: "ignored", port: 1, socket: db.socket, user: db.user, password: db.password)
        let inspector = SourceInspector(connection: try MySQLConnection(viaSocket))
        XCTAssertFalse(try inspector.serverInfo().version.isEmpty)
        XCTAssertEqual(viaSocket.endpoint, "\(db.user)@\(db.socket)")
        // The throwaway server has no TLS: `required` must refuse to fall back to plain TCP.
        let haveSSL = try ServerEnvironment.sql("SELECT @@have_ssl").trimmingCharacters(in: .whitespacesAndNewlines)
        var tls = ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: db.password,
                                    tls: TLSOptions(mode: .required))
        if haveSSL == "YES" {
            XCTAssertNotNil(try MySQLConnection(tls).tlsCipher)
        } else {
            XCTAssertThrowsError(try MySQLConnection(tls)) { error in
                XCTAssertTrue("\(error)".contains("source.tls"), "\(error)")
            }
            tls.tls = TLSOptions(mode: .preferred)
            XCTAssertNil(try MySQLConnection(tls).tlsCipher, "preferred falls back to a plain connection")
        }
    }

    func testEd25519Authentication() throws {
        let db = try ServerEnvironment.mariadb()
        do {
            try ServerEnvironment.sql("INSTALL SONAME 'auth_ed25519'")
        } catch {
            // Already installed, or the server lacks the plugin.
            let installed = try ServerEnvironment.sql("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'")
            if installed.trimmingCharacters(in: .whitespacesAndNewlines) != "1" { throw XCTSkip("the server has no auth_ed25519 plugin") }
        }
        try ServerEnvironment.sql("""
            DROP USER IF EXISTS 'edrepl'@'127.0.0.1';
            CREATE USER 'edrepl'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('ed-secret');
            GRANT REPLICATION SLAVE, BINLOG MONITOR, SELECT ON *.* TO 'edrepl'@'127.0.0.1';
            """)
        defer { _ = try? ServerEnvironment.sql("DROP USER IF EXISTS 'edrepl'@'127.0.0.1'") }
        let options = ConnectionOptions(host: "127.0.0.1", port: db.port, user: "edrepl", password: "ed-secret")
        let inspector = SourceInspector(connection: try MySQLConnection(options))
        XCTAssertFalse(try inspector.currentPosition().file.isEmpty)
        var wrong = options
        wrong.password = "nope"
        XCTAssertThrowsError(try MySQLConnection(wrong)) { error in
            XCTAssertTrue("\(error)".contains("Access denied"), "\(error)")
        }
    }

    func testPasswordNeverInMessages() throws {
        let db = try ServerEnvironment.mariadb()
        let options = ConnectionOptions(host: "127.0.0.1", port: db.port, user: db.user, password: "s3cret-pw-xyz")
        XCTAssertThrowsError(try MySQLConnection(options)) { error in
            XCTAssertFalse("\(error)".contains("s3cret-pw-xyz"), "\(error)")
        }
        XCTAssertFalse("\(options.endpoint)".contains("s3cret"))
    }

    func testSourceConfigKeys() throws {
        let yaml = """
            name: t
            source:
              user: repl
              server_id: 7
              start: {gtid: "0-1-100,1-2-5"}
              tls: {mode: verify_identity, ca: /etc/ssl/ca.pem}
              connect_timeout: 5
              read_timeout: 30
              write_timeout: 20
              heartbeat: 0.5
              reconnect: {initial_delay: 0.2, max_delay: 10, max_attempts: 50}
            redis: {url: "redis://127.0.0.1:6379/0"}
            tables:
              db.t: {redis: {key: "t:{id}"}}
            """
        let config = try PipelineConfig.parse(yaml: yaml)
        XCTAssertEqual(config.source.start, .gtid("0-1-100,1-2-5"))
        XCTAssertEqual(config.source.tls?.mode, "verify_identity")
        XCTAssertEqual(config.source.tls?.ca, "/etc/ssl/ca.pem")
        XCTAssertNil(config.source.tls?.cert)
        XCTAssertEqual(config.source.connectTimeout, 5)
        XCTAssertEqual(config.source.readTimeout, 30)
        XCTAssertEqual(config.source.writeTimeout, 20)
        XCTAssertEqual(config.source.heartbeat, 0.5)
        XCTAssertEqual(config.source.reconnect.initialDelay, 0.2)
        XCTAssertEqual(config.source.reconnect.maxDelay, 10)
        XCTAssertEqual(config.source.reconnect.maxAttempts, 50)

        func rejects(_ replace: String, with: String, path: String) {
            XCTAssertThrowsError(try PipelineConfig.parse(yaml: yaml.replacingOccurrences(of: replace, with: with))) { error in
                XCTAssertTrue("\(error)".contains(path), "\(error)")
            }
        }
        rejects("mode: verify_identity, ca: /etc/ssl/ca.pem", with: "mode: verify_identity", path: "source.tls.ca")
        rejects("mode: verify_identity", with: "mode: sometimes", path: "source.tls.mode")
        rejects("heartbeat: 0.5", with: "heartbeat: 0", path: "source.heartbeat")
        rejects("max_delay: 10", with: "max_delay: 0.1", path: "source.reconnect.max_delay")
        rejects("connect_timeout: 5", with: "connect_timeout: soon", path: "source.connect_timeout")
        rejects("tls: {mode: verify_identity, ca: /etc/ssl/ca.pem}", with: "tls: {mode: required, cert: /c.pem}", path: "source.tls.key")
    }
}

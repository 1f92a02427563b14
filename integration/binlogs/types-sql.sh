# The type-family tables and their workload, shared by make-types.sh (binlogs checked
# against mariadb-binlog) and integration/native/snapshot.sh (snapshot rows equal to
# streamed rows). Source it; `schema`, `inserts`, `updates`, `deletes` and `workload`
# print SQL for the `types` database.

# A 300-label ENUM (2-byte index) and a 12-member SET (2-byte bitmap).
ENUM300=$(for i in $(seq 1 300); do printf "'e%03d'," "$i"; done | sed 's/,$//')
LONG_TEXT="REPEAT('Ωx€😀', 20000)"

schema() {
cat <<SQL
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
DROP DATABASE IF EXISTS types;
CREATE DATABASE types;
USE types;
CREATE TABLE t_int (
  id INT PRIMARY KEY,
  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED,
  mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED,
  bi BIGINT, biu BIGINT UNSIGNED, bo BOOLEAN
) ENGINE=InnoDB;
CREATE TABLE t_num (
  id INT PRIMARY KEY,
  d65 DECIMAL(65,30), d10 DECIMAL(10,2), d5 DECIMAL(5,0), d30 DECIMAL(30,30),
  d18u DECIMAL(18,9) UNSIGNED, f FLOAT, db DOUBLE, fp FLOAT(7,3)
) ENGINE=InnoDB;
CREATE TABLE t_time (
  id INT PRIMARY KEY,
  d DATE, dt DATETIME, dt1 DATETIME(1), dt2 DATETIME(2), dt3 DATETIME(3),
  dt4 DATETIME(4), dt5 DATETIME(5), dt6 DATETIME(6),
  ts TIMESTAMP NULL DEFAULT NULL, ts1 TIMESTAMP(1) NULL DEFAULT NULL, ts3 TIMESTAMP(3) NULL DEFAULT NULL,
  ts6 TIMESTAMP(6) NULL DEFAULT NULL,
  t TIME, t1 TIME(1), t3 TIME(3), t6 TIME(6), y YEAR
) ENGINE=InnoDB;
CREATE TABLE t_str (
  id INT PRIMARY KEY,
  c CHAR(10) CHARACTER SET utf8mb4, vc VARCHAR(300) CHARACTER SET utf8mb4,
  l1 VARCHAR(20) CHARACTER SET latin1, l1c CHAR(5) CHARACTER SET latin1,
  u3 VARCHAR(20) CHARACTER SET utf8mb3, ucs VARCHAR(10) CHARACTER SET ucs2,
  tt TINYTEXT, tx TEXT, mt MEDIUMTEXT, lt LONGTEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE t_bin (
  id INT PRIMARY KEY,
  b8 BINARY(8), vb VARBINARY(300), tb TINYBLOB, bl BLOB, mb MEDIUMBLOB, lb LONGBLOB
) ENGINE=InnoDB;
CREATE TABLE t_enum (
  id INT PRIMARY KEY,
  e ENUM('a', 'b', 'c with space', 'ü', ''), e300 ENUM($ENUM300),
  s SET('x', 'y', 'z'), s12 SET('m1','m2','m3','m4','m5','m6','m7','m8','m9','m10','m11','m12')
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TABLE t_bit (
  id INT PRIMARY KEY,
  b1 BIT(1), b5 BIT(5), b8 BIT(8), b17 BIT(17), b64 BIT(64)
) ENGINE=InnoDB;
CREATE TABLE t_json (
  id INT PRIMARY KEY,
  j JSON
) ENGINE=InnoDB;
CREATE TABLE t_geo (
  id INT PRIMARY KEY,
  g GEOMETRY, p POINT, pg POLYGON
) ENGINE=InnoDB;
CREATE TABLE t_myisam (
  id INT PRIMARY KEY,
  v VARCHAR(20)
) ENGINE=MyISAM;
SQL
}

types_header() {
cat <<SQL
SET SESSION sql_mode = '';
SET SESSION time_zone = '+00:00';
USE types;
SQL
}

inserts() {
types_header
cat <<SQL
INSERT INTO t_int VALUES
  (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, -9223372036854775808, 0, 0),
  (2, 127, 255, 32767, 65535, 8388607, 16777215, 2147483647, 4294967295, 9223372036854775807, 18446744073709551615, 1),
  (3, -1, 1, -1, 1, -1, 1, -1, 1, -1, 1, -1),
  (4, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_num VALUES
  (1, -99999999999999999999999999999999999.999999999999999999999999999999, -99999999.99, -99999, -0.999999999999999999999999999999, 999999999.999999999, -3.40282e38, -1.7976931348623157e308, -9999.999),
  (2, 99999999999999999999999999999999999.999999999999999999999999999999, 99999999.99, 99999, 0.000000000000000000000000000001, 0.000000001, 1.17549e-38, 2.2250738585072014e-308, 0.001),
  (3, 0, 0, 0, 0, 0, 0, 0, 0),
  (4, -0.5, -0.01, -1, -0.5, 12.5, 0.1, 0.1, 3.14159),
  (5, 1234567890.0987654321, 12.3, 7, 0.123456789012345678901234567890, 1, 3.4028234e38, 1e-300, -0.5),
  (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_time VALUES
  (1, '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', '0000-00-00 00:00:00.00', '0000-00-00 00:00:00.000',
   '0000-00-00 00:00:00.0000', '0000-00-00 00:00:00.00000', '0000-00-00 00:00:00.000000',
   '0000-00-00 00:00:00', '0000-00-00 00:00:00.0', '0000-00-00 00:00:00.000', '0000-00-00 00:00:00.000000',
   '00:00:00', '00:00:00.0', '00:00:00.000', '00:00:00.000000', 0),
  (2, '1000-01-01', '1000-01-01 00:00:00', '1000-01-01 00:00:00.1', '1000-01-01 00:00:00.01', '1000-01-01 00:00:00.001',
   '1000-01-01 00:00:00.0001', '1000-01-01 00:00:00.00001', '1000-01-01 00:00:00.000001',
   '1970-01-01 00:00:01', '1970-01-01 00:00:01.9', '1970-01-01 00:00:01.999', '1970-01-01 00:00:01.000001',
   '-838:59:59', '-838:59:58.9', '-00:00:00.001', '-00:00:01.000001', 1901),
  (3, '9999-12-31', '9999-12-31 23:59:59', '9999-12-31 23:59:59.9', '9999-12-31 23:59:59.99', '9999-12-31 23:59:59.999',
   '9999-12-31 23:59:59.9999', '9999-12-31 23:59:59.99999', '9999-12-31 23:59:59.999999',
   '2038-01-19 03:14:07', '2038-01-19 03:14:07.9', '2038-01-19 03:14:07.999', '2038-01-19 03:14:07.999999',
   '838:59:59', '838:59:58.9', '12:34:56.789', '-12:34:56.123456', 2155),
  (4, '2024-02-29', '2024-01-31 10:00:00', '2024-01-31 10:00:00.5', '2024-01-31 10:00:00.05', '2024-01-31 10:00:00.123',
   '2024-01-31 10:00:00.1234', '2024-01-31 10:00:00.12345', '2024-01-31 10:00:00.123456',
   '2024-01-31 10:00:00', '2024-01-31 10:00:00.5', '2024-01-31 10:00:00.123', '2024-01-31 10:00:00.123456',
   '-01:00:00', '-00:00:00.5', '00:00:00.001', '23:59:59.999999', 2024),
  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_str VALUES
  (1, '', '', '', '', '', '', '', '', '', ''),
  (2, 'a', 'plain ascii', 'café €', 'é€', 'ü€✓', 'ü€', 'tiny', 'text', 'medium', 'long'),
  (3, '😀𝄞', 'emoji 😀 and 𝄞 and 中文', 'Å×÷ÿ', 'ÿþ', 'añ中', '中文', 'ß😀', 'q\'s \\\\ back', 'tab\there\nnew line', CONCAT('nul', CHAR(0), 'byte')),
  (4, 'pad  ', 'trailing  ', 'x  ', 'y ', 'z', 'w', CONCAT('ctl', CHAR(1), CHAR(31), CHAR(127)), '"quoted" {json}', $LONG_TEXT, $LONG_TEXT),
  (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_bin VALUES
  (1, '', '', '', '', '', ''),
  (2, 'ab', X'00ff10', X'7f', X'0000', X'deadbeef', X'0a0d09'),
  (3, X'0102030405060708', 'text as bytes', REPEAT(X'ab', 255), REPEAT(X'cd', 65535), REPEAT(X'ef', 70000), REPEAT('xyz', 30000)),
  (4, NULL, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_enum VALUES
  (1, 'a', 'e001', '', ''),
  (2, 'c with space', 'e300', 'x,y,z', 'm1,m12'),
  (3, 'ü', 'e256', 'y', 'm2,m3,m4,m5,m6,m7,m8,m9,m10,m11'),
  (4, '', 'e255', 'x,z', 'm9'),
  (5, NULL, NULL, NULL, NULL);
INSERT INTO t_bit VALUES
  (1, b'0', b'00000', b'00000000', 0, 0),
  (2, b'1', b'11111', b'11111111', b'11111111111111111', 18446744073709551615),
  (3, b'1', b'10100', b'10000001', b'10000000000000001', 9223372036854775808),
  (4, NULL, NULL, NULL, NULL, NULL);
INSERT INTO t_json VALUES
  (1, '{"a": 1, "b": [true, false, null], "c": "ü😀", "d": 1.5e10}'),
  (2, '[]'), (3, '"just a string"'), (4, 'null'), (5, '{}'),
  (6, CONCAT('{"long": "', REPEAT('j', 70000), '"}')),
  (7, NULL);
INSERT INTO t_geo VALUES
  (1, ST_GeomFromText('POINT(1 2)'), ST_GeomFromText('POINT(-1.5 1e10)'),
   ST_GeomFromText('POLYGON((0 0,10 0,10 10,0 10,0 0))')),
  (2, ST_GeomFromText('LINESTRING(0 0,1 1,2 2)', 4326), ST_GeomFromText('POINT(0 0)'), NULL),
  (3, NULL, NULL, NULL);
INSERT INTO t_myisam VALUES (1, 'myisam'), (2, NULL);
SQL
}

updates() {
types_header
cat <<SQL
BEGIN;
UPDATE t_int SET id = id + 100;
UPDATE t_int SET ti = 127 - ti, biu = 18446744073709551615 - biu WHERE ti IS NOT NULL;
UPDATE t_num SET id = id + 100, d65 = -d65, f = -f, db = db / 3;
COMMIT;
UPDATE t_time SET id = id + 100, dt6 = dt6 + INTERVAL 1 MICROSECOND WHERE id > 1;
UPDATE t_time SET ts6 = NULL, t6 = '-838:59:59.000000', y = 1999 WHERE id = 101 OR id = 1;
UPDATE t_str SET id = id + 100, vc = CONCAT(vc, '✓'), l1 = NULL, lt = CONCAT(IFNULL(lt, ''), 'é');
UPDATE t_bin SET id = id + 100, vb = CONCAT(IFNULL(vb, ''), X'00');
UPDATE t_enum SET id = id + 100, e = 'b', s12 = 'm5,m6' WHERE id < 5;
UPDATE t_bit SET id = id + 100, b64 = 1 WHERE id < 4;
UPDATE t_json SET id = id + 100, j = JSON_SET(IFNULL(j, '{}'), '\$.added', 'yes') WHERE id <> 6;
UPDATE t_geo SET id = id + 100, p = ST_GeomFromText('POINT(3 4)');
UPDATE t_myisam SET v = 'changed';
SQL
}

deletes() {
types_header
cat <<SQL
BEGIN;
DELETE FROM t_int;
DELETE FROM t_num;
COMMIT;
DELETE FROM t_time; DELETE FROM t_str; DELETE FROM t_bin; DELETE FROM t_enum;
DELETE FROM t_bit; DELETE FROM t_json; DELETE FROM t_geo; DELETE FROM t_myisam;
SQL
}

# Every row inserted, updated, then deleted.
workload() { inserts; updates; deletes; }

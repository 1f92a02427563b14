/// MySQL column type codes as they appear in TABLE_MAP events.
public enum ColumnType {
    public static let decimal: UInt8 = 0
    public static let tiny: UInt8 = 1
    public static let short: UInt8 = 2
    public static let long: UInt8 = 3
    public static let float: UInt8 = 4
    public static let double: UInt8 = 5
    public static let null: UInt8 = 6
    public static let timestamp: UInt8 = 7
    public static let longlong: UInt8 = 8
    public static let int24: UInt8 = 9
    public static let date: UInt8 = 10
    public static let time: UInt8 = 11
    public static let datetime: UInt8 = 12
    public static let year: UInt8 = 13
    public static let newdate: UInt8 = 14
    public static let varchar: UInt8 = 15
    public static let bit: UInt8 = 16
    public static let timestamp2: UInt8 = 17
    public static let datetime2: UInt8 = 18
    public static let time2: UInt8 = 19
    public static let vector: UInt8 = 242
    public static let json: UInt8 = 245
    public static let newdecimal: UInt8 = 246
    public static let enumeration: UInt8 = 247
    public static let set: UInt8 = 248
    public static let tinyBlob: UInt8 = 249
    public static let mediumBlob: UInt8 = 250
    public static let longBlob: UInt8 = 251
    public static let blob: UInt8 = 252
    public static let varString: UInt8 = 253
    public static let string: UInt8 = 254
    public static let geometry: UInt8 = 255

    /// The SQL name of a type code, for messages.
    public static func name(_ type: UInt8) -> String {
        switch type {
        case 0: return "DECIMAL(old)"
        case 1: return "TINYINT"
        case 2: return "SMALLINT"
        case 3: return "INT"
        case 4: return "FLOAT"
        case 5: return "DOUBLE"
        case 6: return "NULL"
        case 7: return "TIMESTAMP(old)"
        case 8: return "BIGINT"
        case 9: return "MEDIUMINT"
        case 10: return "DATE"
        case 11: return "TIME(old)"
        case 12: return "DATETIME(old)"
        case 13: return "YEAR"
        case 14: return "NEWDATE"
        case 15: return "VARCHAR"
        case 16: return "BIT"
        case 17: return "TIMESTAMP"
        case 18: return "DATETIME"
        case 19: return "TIME"
        case 20: return "TYPED_ARRAY"
        case 242: return "VECTOR"
        case 245: return "JSON"
        case 246: return "DECIMAL"
        case 247: return "ENUM"
        case 248: return "SET"
        case 249: return "TINYBLOB"
        case 250: return "MEDIUMBLOB"
        case 251: return "LONGBLOB"
        case 252: return "BLOB"
        case 253: return "VAR_STRING"
        case 254: return "CHAR"
        case 255: return "GEOMETRY"
        default: return "type \(type)"
        }
    }

    /// Bytes of per-column metadata a TABLE_MAP stores for a type; `nil` for unknown types.
    static func metadataSize(_ type: UInt8) -> Int? {
        switch type {
        case float, double, tinyBlob, mediumBlob, longBlob, blob, geometry, json, vector,
             timestamp2, datetime2, time2:
            return 1
        case varchar, varString, bit, newdecimal, string, enumeration, set, decimal:
            return 2
        case tiny, short, long, null, timestamp, longlong, int24, date, time, datetime, year, newdate:
            return 0
        default:
            return nil
        }
    }

    /// Numeric columns: those the SIGNEDNESS optional metadata has a bit for.
    static func isNumeric(_ type: UInt8) -> Bool {
        switch type {
        case tiny, short, int24, long, longlong, float, double, newdecimal, decimal: return true
        default: return false
        }
    }
}

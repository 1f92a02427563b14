extension EventDecoder {
    /// Optional-metadata field types (MySQL 8.0.1+, MariaDB 10.5+).
    private enum OptionalField: UInt8 {
        case signedness = 1, defaultCharset, columnCharset, columnName, setStrValue, enumStrValue,
             geometryType, simplePrimaryKey, primaryKeyWithPrefix, enumAndSetDefaultCharset,
             enumAndSetColumnCharset, columnVisibility
    }

    /// TABLE_MAP: table id, names, column types and metadata, nullability, and the
    /// optional metadata fields.
    func decodeTableMap(_ r: inout ByteReader) throws -> TableMap {
        let ph = postHeaderLength(EventType.tableMap, default: 8)
        let tableID: UInt64 = ph == 6 ? UInt64(try r.u32()) : try r.u48()
        let flags = try r.u16()
        if ph > 8 { try r.skip(ph - 8) }
        let schemaLength = Int(try r.u8())
        let schema = try r.string(schemaLength)
        try r.skip(1)
        let tableLength = Int(try r.u8())
        let table = try r.string(tableLength)
        try r.skip(1)
        let count = try r.lenencCount()
        try r.require(count)
        let types = try r.array(count)
        var meta = [UInt16](repeating: 0, count: count)
        var nullable = [Bool](repeating: true, count: count)
        // MySQL 5.1 before 5.1.18 wrote neither metadata nor NULL bitmap.
        if !r.isAtEnd {
            let metaLength = try r.lenencCount()
            try r.require(metaLength)
            var m = ByteReader(r.buffer, offset: r.offset, end: r.offset + metaLength, eventType: r.eventType, position: r.position)
            for i in 0..<count {
                guard let size = ColumnType.metadataSize(types[i]) else {
                    throw r.error(.unknownColumnType, "column \(i + 1) of `\(schema)`.`\(table)` has column type \(types[i]), which this decoder does not know; report the server version and the column's definition")
                }
                switch size {
                case 1:
                    meta[i] = UInt16(try m.u8())
                case 2:
                    if types[i] == ColumnType.varchar || types[i] == ColumnType.varString {
                        meta[i] = try m.u16()
                    } else {
                        let b0 = try m.u8(), b1 = try m.u8()
                        meta[i] = UInt16(b0) << 8 | UInt16(b1)
                    }
                default:
                    break
                }
            }
            try r.skip(metaLength)
            let nullBits = try r.bytes((count + 7) / 8)
            for i in 0..<count { nullable[i] = nullBits[i >> 3] & (1 << UInt8(i & 7)) != 0 }
        }

        let o = r.isAtEnd ? OptionalMetadata() : try decodeOptionalMetadata(&r, types: types, meta: meta)
        return TableMap(tableID: tableID, flags: flags, schema: schema, table: table,
                        columnTypes: types, columnMeta: meta, nullable: nullable,
                        columnNames: o.names, primaryKey: o.primaryKey, primaryKeyPrefixes: o.prefixes,
                        unsigned: o.unsigned, collations: o.collations, enumLabels: o.enumLabels, setLabels: o.setLabels,
                        geometryTypes: o.geometryTypes, visible: o.visible)
    }

    /// The optional-metadata fields of one TABLE_MAP, per column.
    private struct OptionalMetadata {
        var unsigned: [Bool]?
        var collations: [UInt32?]?
        var names: [String]?
        var enumLabels: [[String]?]?
        var setLabels: [[String]?]?
        var geometryTypes: [UInt32?]?
        var primaryKey: [Int]?
        var prefixes: [Int]?
        var visible: [Bool]?
    }

    /// Which columns the per-kind optional fields list: MariaDB counts YEAR among the
    /// numeric (SIGNEDNESS) columns and GEOMETRY among the character (charset) columns;
    /// MySQL counts neither, and MySQL 9 counts VECTOR as a character column.
    private func decodeOptionalMetadata(_ r: inout ByteReader, types: [UInt8], meta: [UInt16]) throws -> OptionalMetadata {
        let count = types.count
        let mariaDB = serverVersion?.contains("MariaDB") ?? false
        var numeric: [Int] = [], character: [Int] = [], enumOrSet: [Int] = [], enums: [Int] = [], sets: [Int] = [], geometry: [Int] = []
        for i in 0..<count {
            let type = types[i]
            let real = TableMap.realType(type, meta: meta[i])
            if ColumnType.isNumeric(type) || (mariaDB && type == ColumnType.year) { numeric.append(i) }
            switch real {
            case ColumnType.string, ColumnType.varchar, ColumnType.varString, ColumnType.vector,
                 ColumnType.blob, ColumnType.tinyBlob, ColumnType.mediumBlob, ColumnType.longBlob:
                character.append(i)
            case ColumnType.enumeration:
                enumOrSet.append(i); enums.append(i)
            case ColumnType.set:
                enumOrSet.append(i); sets.append(i)
            case ColumnType.geometry:
                geometry.append(i)
                if mariaDB { character.append(i) }
            default:
                break
            }
        }

        var unsigned: [Bool]?
        var collations: [UInt32?]?
        var names: [String]?
        var enumRaw: [[[UInt8]]]?, setRaw: [[[UInt8]]]?
        var geometryTypes: [UInt32?]?
        var primaryKey: [Int]?, prefixes: [Int]?
        var visible: [Bool]?

        func setCollation(_ column: Int, _ value: UInt64) {
            if collations == nil { collations = [UInt32?](repeating: nil, count: count) }
            collations?[column] = UInt32(truncatingIfNeeded: value)
        }

        while !r.isAtEnd {
            let fieldType = try r.u8()
            let length = try r.lenencCount()
            try r.require(length)
            var f = ByteReader(r.buffer, offset: r.offset, end: r.offset + length, eventType: r.eventType, position: r.position)
            try r.skip(length)
            guard let field = OptionalField(rawValue: fieldType) else { continue }
            switch field {
            case .signedness:
                var flags = [Bool](repeating: false, count: count)
                let bits = try f.bytes((numeric.count + 7) / 8)
                for (k, column) in numeric.enumerated() {
                    flags[column] = bits[k >> 3] & (0x80 >> UInt8(k & 7)) != 0
                }
                unsigned = flags
            case .defaultCharset, .enumAndSetDefaultCharset:
                let columns = field == .defaultCharset ? character : enumOrSet
                let fallback = try f.lenenc()
                for column in columns { setCollation(column, fallback) }
                while !f.isAtEnd {
                    let index = try f.lenencCount()
                    let collation = try f.lenenc()
                    guard index < columns.count else {
                        throw f.error(.corrupt, "charset entry for character column \(index) but the table has \(columns.count); the TABLE_MAP is corrupt")
                    }
                    setCollation(columns[index], collation)
                }
            case .columnCharset, .enumAndSetColumnCharset:
                let columns = field == .columnCharset ? character : enumOrSet
                for column in columns { setCollation(column, try f.lenenc()) }
            case .columnName:
                var list: [String] = []
                list.reserveCapacity(count)
                for _ in 0..<count { list.append(try f.string(try f.lenencCount())) }
                names = list
            case .setStrValue, .enumStrValue:
                var all: [[[UInt8]]] = []
                let columns = field == .setStrValue ? sets : enums
                for _ in columns {
                    let n = try f.lenencCount()
                    try f.require(n)
                    var labels: [[UInt8]] = []
                    labels.reserveCapacity(n)
                    for _ in 0..<n { labels.append(try f.array(try f.lenencCount())) }
                    all.append(labels)
                }
                if field == .setStrValue { setRaw = all } else { enumRaw = all }
            case .geometryType:
                var list = [UInt32?](repeating: nil, count: count)
                for column in geometry { list[column] = UInt32(truncatingIfNeeded: try f.lenenc()) }
                geometryTypes = list
            case .simplePrimaryKey, .primaryKeyWithPrefix:
                var keys: [Int] = [], lengths: [Int] = []
                while !f.isAtEnd {
                    let index = try f.lenencCount()
                    guard index < count else {
                        throw f.error(.corrupt, "primary key names column \(index + 1) but the table has \(count); the TABLE_MAP is corrupt")
                    }
                    keys.append(index)
                    lengths.append(field == .primaryKeyWithPrefix ? try f.lenencCount() : 0)
                }
                primaryKey = keys
                prefixes = lengths
            case .columnVisibility:
                var flags = [Bool](repeating: true, count: count)
                let bits = try f.bytes((count + 7) / 8)
                for i in 0..<count { flags[i] = bits[i >> 3] & (0x80 >> UInt8(i & 7)) != 0 }
                visible = flags
            }
        }

        func labels(_ raw: [[[UInt8]]]?, columns: [Int]) -> [[String]?]? {
            guard let raw else { return nil }
            var result = [[String]?](repeating: nil, count: count)
            for (k, column) in columns.enumerated() where k < raw.count {
                let codec = TextCodec(collation: collations?[column] ?? nil)
                result[column] = raw[k].map { codec.label($0) }
            }
            return result
        }

        return OptionalMetadata(unsigned: unsigned, collations: collations, names: names,
                                enumLabels: labels(enumRaw, columns: enums), setLabels: labels(setRaw, columns: sets),
                                geometryTypes: geometryTypes, primaryKey: primaryKey, prefixes: prefixes, visible: visible)
    }
}

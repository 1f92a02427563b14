import XCTest
@testable import SearchIndex

/// Segment files (term dictionary, postings with frequencies and positions, norms,
/// numbers, ids and stored fields) decode to exactly what was encoded.
final class SegmentCodecTests: XCTestCase {
    func testRandomSegmentsRoundTrip() throws {
        var random = ReferenceScorerTests.Random(state: 7)
        let schema: [String: FieldType] = ["body": .text, "tag": .keyword, "n": .number]
        for round in 0..<5 {
            var builder = SegmentBuilder(fields: schema)
            for doc in 0..<(1 + random.below(300)) {
                let words = (0..<random.below(40)).map { _ in "w\(random.below(1 + round * 50))" }
                var fields: [String: FieldValue] = ["body": .text(words.joined(separator: " ") + " Ünïcödé 東京都")]
                if random.below(3) > 0 { fields["tag"] = .keyword(["a", "b", "", "Sold Out"][random.below(4)]) }
                if random.below(3) > 0 { fields["n"] = .number(Double(random.below(1000)) / 8 - 50) }
                builder.add(Document(id: "id\(doc)", fields: fields, stored: ["k": .int(Int64(doc)), "s": .string("x\(doc)")]))
            }
            let segment = builder.build(name: "seg-\(round)")
            let decoded = try Segment.decode(segment.encoded(), name: segment.name, path: "test")
            XCTAssertEqual(decoded.ids, segment.ids)
            XCTAssertEqual(decoded.stored, segment.stored)
            XCTAssertEqual(Set(decoded.fields.keys), Set(schema.keys))
            for (name, field) in segment.fields {
                let other = try XCTUnwrap(decoded.fields[name])
                XCTAssertEqual(other.type, field.type, name)
                XCTAssertEqual(other.terms, field.terms, name)
                XCTAssertEqual(other.postingStart, field.postingStart, name)
                XCTAssertEqual(other.docs, field.docs, name)
                XCTAssertEqual(other.freqs, field.freqs, name)
                XCTAssertEqual(other.positionStart, field.positionStart, name)
                XCTAssertEqual(other.positions, field.positions, name)
                XCTAssertEqual(other.lengths, field.lengths, name)
                XCTAssertEqual(other.numbers.map(\.bitPattern), field.numbers.map(\.bitPattern), name)
            }
            XCTAssertFalse(segment.fields["body"]!.terms.isEmpty)
        }
    }

    func testFullBlocksArePacked() throws {
        var builder = SegmentBuilder(fields: ["body": .text])
        for doc in 0..<700 {
            builder.add(Document(id: "d\(doc)", fields: ["body": .text(doc % 3 == 0 ? "common common rare\(doc)" : "common")]))
        }
        let segment = builder.build(name: "s")
        let field = segment.fields["body"]!
        XCTAssertEqual(field.postings(field.termOrdinal("common")!).count, 700, "five full blocks and a partial one")
        let decoded = try Segment.decode(segment.encoded(), name: "s", path: "test").fields["body"]!
        XCTAssertEqual(decoded.docs, field.docs)
        XCTAssertEqual(decoded.freqs, field.freqs)
        XCTAssertEqual(decoded.positions, field.positions)
        XCTAssertEqual(decoded.terms, field.terms)
    }

    func testPackedValuesRoundTripAtEveryWidth() throws {
        var random = ReferenceScorerTests.Random(state: 3)
        for width in 0...32 {
            let values = (0..<128).map { _ in width == 0 ? 0 : UInt32(truncatingIfNeeded: random.next()) >> UInt32(32 - width) }
            var writer = ByteWriter()
            writer.writePacked(values)
            writer.finishWithChecksum()
            var reader = try ByteReader(bytes: writer.bytes, path: "test")
            var decoded = [UInt32](repeating: 1, count: 128)
            try reader.readPacked(into: &decoded)
            XCTAssertEqual(decoded, values, "width \(width)")
            XCTAssertTrue(reader.isAtEnd)
        }
    }

    func testSegmentsOfAnotherFormatVersionAskForARebuild() {
        var builder = SegmentBuilder(fields: ["body": .text])
        builder.add(Document(id: "a", fields: ["body": .text("hello")]))
        let current = builder.build(name: "s").encoded()
        // Version 1 had plain postings, version 2 plain stored fields and varint positions.
        for version: UInt8 in [1, 2] {
            var writer = ByteWriter()
            var bytes = current
            bytes.removeLast(8)
            bytes[4] = version
            writer.write(bytes)
            writer.finishWithChecksum()
            XCTAssertThrowsError(try Segment.decode(writer.bytes, name: "s", path: "/x/s.seg")) { error in
                let message = (error as? SearchError)?.message ?? ""
                XCTAssertTrue(message.contains("version \(version)") && message.contains("rebuild the index"), message)
            }
        }
    }

    func testBuilderKeepsPostingsSortedWithFrequenciesAndPositions() {
        var builder = SegmentBuilder(fields: ["body": .text])
        builder.add(Document(id: "a", fields: ["body": .text("b a b c b")]))
        builder.add(Document(id: "b", fields: ["body": .text("c")]))
        builder.add(Document(id: "c", fields: ["body": .text("b")]))
        let field = builder.build(name: "s").fields["body"]!
        XCTAssertEqual(field.terms, ["a", "b", "c"])
        let b = field.termOrdinal("b")!
        XCTAssertEqual(Array(field.postings(b)).map { field.docs[$0] }, [0, 2])
        XCTAssertEqual(Array(field.postings(b)).map { field.freqs[$0] }, [3, 1])
        XCTAssertEqual(Array(field.positions(ofPosting: field.postings(b).lowerBound)), [0, 2, 4])
        XCTAssertEqual(field.lengths, [5, 1, 1])
    }

    func testCorruptSegmentIsRefusedWithTheFix() {
        var builder = SegmentBuilder(fields: ["body": .text])
        builder.add(Document(id: "a", fields: ["body": .text("hello world")]))
        var bytes = builder.build(name: "s").encoded()
        bytes[bytes.count / 2] ^= 0xFF
        XCTAssertThrowsError(try Segment.decode(bytes, name: "s", path: "/x/s.seg")) { error in
            let message = (error as? SearchError)?.message ?? ""
            XCTAssertTrue(message.contains("/x/s.seg") && message.contains("rebuild the index"), message)
        }
    }

    /// A merge of segments with deletes holds what a segment built from their live
    /// documents (in the same order) holds: terms, postings, frequencies, positions,
    /// lengths and numbers.
    func testMergedSegmentEqualsOneBuiltFromTheLiveDocuments() throws {
        var random = ReferenceScorerTests.Random(state: 11)
        let schema: [String: FieldType] = ["body": .text, "tag": .keyword, "n": .number]
        for round in 0..<4 {
            var sources: [SegmentView] = []
            var live: [Document] = []
            for source in 0..<(1 + random.below(5)) {
                var builder = SegmentBuilder(fields: schema)
                var documents: [Document] = []
                for doc in 0..<(1 + random.below(200)) {
                    let words = (0..<random.below(30)).map { _ in "w\(random.below(1 + round * 40))" }
                    var fields: [String: FieldValue] = [:]
                    if random.below(5) > 0 { fields["body"] = .text(words.joined(separator: " ")) }
                    if random.below(3) > 0 { fields["tag"] = .keyword(["a", "b", "Sold Out"][random.below(3)]) }
                    if random.below(3) > 0 { fields["n"] = .number(Double(random.below(100))) }
                    let document = Document(id: "\(source)-\(doc)", fields: fields, stored: ["k": .int(Int64(doc))])
                    builder.add(document)
                    documents.append(document)
                }
                let segment = builder.build(name: "s\(source)")
                var deletes = DeleteSet(docCount: segment.docCount)
                for doc in 0..<segment.docCount where random.below(4) == 0 { deletes.insert(doc) }
                for doc in 0..<segment.docCount where !deletes.contains(doc) { live.append(documents[doc]) }
                sources.append(SegmentView(segment: segment, deletes: deletes.count > 0 ? deletes : nil, deleteGeneration: 1))
            }
            let merged = Segment.merging(sources, fields: schema, name: "m")
            guard !live.isEmpty else {
                XCTAssertNil(merged)
                continue
            }
            var builder = SegmentBuilder(fields: schema)
            for document in live { builder.add(document) }
            let expected = builder.build(name: "e")
            let segment = try XCTUnwrap(merged)
            XCTAssertEqual(segment.ids, expected.ids)
            XCTAssertEqual(segment.stored, expected.stored)
            for (name, field) in expected.fields {
                let other = try XCTUnwrap(segment.fields[name])
                XCTAssertEqual(other.terms, field.terms, name)
                XCTAssertEqual(other.postingStart, field.postingStart, name)
                XCTAssertEqual(other.docs, field.docs, name)
                XCTAssertEqual(other.freqs, field.freqs, name)
                XCTAssertEqual(other.positionStart, field.positionStart, name)
                XCTAssertEqual(other.positions, field.positions, name)
                XCTAssertEqual(other.lengths, field.lengths, name)
                XCTAssertEqual(other.numbers.map(\.bitPattern), field.numbers.map(\.bitPattern), name)
            }
        }
    }

    /// Many distinct terms (the term table grows many times) keep their postings apart,
    /// and terms sharing their first eight bytes or differing only in length stay distinct.
    func testManyTermsAndSharedPrefixesStayDistinct() {
        var builder = SegmentBuilder(fields: ["body": .text])
        let words = (0..<5000).map { "t\($0)" } + ["abcdefgh", "abcdefghi", "abcdefghij", "abcdefgi", "abcdefg", "a", "a0"]
        for (doc, word) in words.enumerated() {
            builder.add(Document(id: "\(doc)", fields: ["body": .text(word + " " + word + " common")]))
        }
        let field = builder.build(name: "s").fields["body"]!
        XCTAssertEqual(field.terms.count, words.count + 1)
        XCTAssertEqual(Array(field.terms), field.terms.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
        for (doc, word) in words.enumerated() {
            let postings = field.postings(field.termOrdinal(word)!)
            XCTAssertEqual(postings.map { field.docs[$0] }, [UInt32(doc)], word)
            XCTAssertEqual(postings.map { field.freqs[$0] }, [2], word)
            XCTAssertEqual(Array(field.positions(ofPosting: postings.lowerBound)), [0, 1], word)
        }
        XCTAssertEqual(field.postings(field.termOrdinal("common")!).count, words.count)
    }

    /// Ids and stored fields are compressed in blocks: thousands of documents span several
    /// blocks, come back unchanged, and take less room than their text.
    func testStoredFieldsSpanSeveralCompressedBlocks() throws {
        var builder = SegmentBuilder(fields: ["body": .text])
        var rawBytes = 0
        for doc in 0..<3000 {
            let name = "package-\(doc) — a library for parsing things, version \(doc % 17)"
            rawBytes += name.utf8.count + "id-\(doc)".utf8.count
            builder.add(Document(
                id: "id-\(doc)", fields: ["body": .text("x")],
                stored: ["name": .string(name), "n": .int(Int64(doc) - 1500), "price": .double(Double(doc) / 3)]))
        }
        let segment = builder.build(name: "s")
        let bytes = segment.encoded()
        XCTAssertGreaterThan(rawBytes, 3 * Segment.storedBlockBytes, "several blocks")
        XCTAssertLessThan(bytes.count, rawBytes / 2)
        let decoded = try Segment.decode(bytes, name: "s", path: "test")
        XCTAssertEqual(decoded.ids, segment.ids)
        XCTAssertEqual(decoded.stored, segment.stored)
        XCTAssertEqual(decoded.doc(for: "id-2999"), 2999)
    }
}

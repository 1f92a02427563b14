import Foundation
import XCTest
@testable import SearchIndex

final class IndexStoreTests: IndexTestCase {
    func testChangesBecomeVisibleOnlyAtCommit() throws {
        let store = try openStore()
        XCTAssertEqual(store.committedPayload, [:])
        try store.upsert(index: "products", document: product("1", "Red shoes"))
        XCTAssertEqual(try store.snapshot().documentCount(index: "products"), 0)
        let empty = store.snapshot()
        try store.commit(payload: ["pos": "100"])
        let first = store.snapshot()
        XCTAssertGreaterThan(first.generation, empty.generation)
        XCTAssertEqual(try first.documentCount(index: "products"), 1)
        XCTAssertEqual(first.document(index: "products", id: "1"), ["name": .string("Red shoes"), "price": .double(10)])

        try store.upsert(index: "products", document: product("1", "Blue boots", price: 20))
        try store.delete(index: "products", id: "absent")
        XCTAssertEqual(try ids(store.snapshot(), "red"), ["1"])
        try store.commit(payload: ["pos": "200"])
        let second = store.snapshot()
        XCTAssertEqual(try ids(second, "red"), [])
        XCTAssertEqual(try ids(second, "boots"), ["1"])
        XCTAssertEqual(try second.documentCount(index: "products"), 1)
        XCTAssertEqual(try ids(first, "red"), ["1"], "an older snapshot keeps its state")

        try store.delete(index: "products", id: "1")
        try store.commit(payload: ["pos": "300"])
        XCTAssertNil(store.snapshot().document(index: "products", id: "1"))
        XCTAssertEqual(try store.snapshot().documentCount(index: "products"), 0)
    }

    /// A large commit is built as several segments at once; searching them gives what
    /// the same documents committed in small pieces give.
    func testLargeCommitBuiltInParallelSearchesLikeSmallOnes() throws {
        let words = ["red", "green", "blue", "shoe", "hat", "boot", "wool", "silk", "linen", "cotton"]
        func doc(_ n: Int, round: Int = 0) -> Document {
            product(String(n), "\(words[n % 10]) \(words[(n / 10) % 10]) \(words[(n * 7 + round) % 10])",
                    description: "item \(n) round \(round)", status: n % 3 == 0 ? "sold" : "active", price: Double(n % 100))
        }
        let big = try openStore()
        for n in 0..<5000 { try big.upsert(index: "products", document: doc(n)) }
        try big.commit(payload: ["pos": "1"])
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, IndexStore.maxParallelBuilds, 5000 / (IndexStore.parallelBuildMinimum / 2)))
        XCTAssertEqual(big.snapshot().segmentCount(index: "products"), parts)
        let smallDirectory = directory + "-small"
        defer { try? FileManager.default.removeItem(atPath: smallDirectory) }
        let small = try IndexStore(directory: smallDirectory, schemas: ["products": productSchema])
        for batch in 0..<5 {
            for n in (batch * 1000)..<(batch * 1000 + 1000) { try small.upsert(index: "products", document: doc(n)) }
            try small.commit(payload: ["pos": "1"])
        }
        // Then every other document changes, across all the parts.
        for store in [big, small] {
            for n in stride(from: 0, to: 5000, by: 2) { try store.upsert(index: "products", document: doc(n, round: 1)) }
            try store.delete(index: "products", id: "7")
            try store.commit(payload: ["pos": "2"])
            store.waitForMerges()
        }
        for query in ["red", "shoe boot", "\"green hat\"", "status:sold wool", "price:[10 TO 20] silk", "\"round 1\""] {
            let a = try big.snapshot().search(index: "products", query: query, limit: 50)
            let b = try small.snapshot().search(index: "products", query: query, limit: 50)
            XCTAssertEqual(a.total, b.total, query)
            XCTAssertEqual(a.hits.map(\.id), b.hits.map(\.id), query)
            for (x, y) in zip(a.hits, b.hits) { XCTAssertEqual(x.score, y.score, accuracy: 1e-9, query) }
        }
        XCTAssertEqual(try big.snapshot().documentCount(index: "products"), 4999)
        XCTAssertGreaterThan(try big.snapshot().search(index: "products", query: "red", limit: 1).total, 100)
        XCTAssertEqual(try big.snapshot().search(index: "products", query: "\"round 1\"", limit: 1).total, 2500)
    }

    func testLastChangeOfAnIdWithinACommitWins() throws {
        let store = try openStore()
        try store.upsert(index: "products", document: product("1", "alpha"))
        try store.upsert(index: "products", document: product("1", "beta"))
        try store.upsert(index: "products", document: product("2", "gamma"))
        try store.delete(index: "products", id: "2")
        try store.commit(payload: [:])
        XCTAssertEqual(try ids(store.snapshot(), "alpha beta gamma"), ["1"])
        XCTAssertEqual(store.snapshot().document(index: "products", id: "1")?["name"], .string("beta"))
    }

    func testPayloadAndDocumentsSurviveReopen() throws {
        do {
            let store = try openStore()
            try store.upsert(index: "products", document: product("1", "Red shoes"))
            try store.upsert(index: "products", document: product("2", "Green hat"))
            try store.commit(payload: ["file": "binlog.000002", "pos": "4711", "gtid": "0-1-100"])
            try store.delete(index: "products", id: "2")
            try store.commit(payload: ["file": "binlog.000002", "pos": "4800", "gtid": "0-1-101"])
            try store.upsert(index: "products", document: product("3", "never committed"))
        }
        let store = try openStore()
        XCTAssertEqual(store.committedPayload, ["file": "binlog.000002", "pos": "4800", "gtid": "0-1-101"])
        XCTAssertEqual(try ids(store.snapshot(), "red green never"), ["1"])
        try store.upsert(index: "products", document: product("1", "Yellow shoes"))
        try store.commit(payload: ["pos": "5000"])
        XCTAssertEqual(try ids(store.snapshot(), "shoes"), ["1"])
        XCTAssertEqual(try store.snapshot().documentCount(index: "products"), 1)
    }

    /// A term in every document of a large segment packs many postings per byte (a
    /// keyword: width-0 frequencies, 1-bit deltas); reopening must not take the posting
    /// count for corruption. (Found by integration/native/run.sh: 28,158 postings in
    /// 4,197 bytes.)
    func testDensePostingsOfALargeSegmentSurviveReopen() throws {
        do {
            let store = try openStore()
            for i in 0..<20_000 { try store.upsert(index: "products", document: product(String(i), "same words", status: "bulk")) }
            try store.commit(payload: ["pos": "1"])
        }
        let reader = try IndexStore.openReadOnly(directory: directory)
        XCTAssertEqual(try reader.search(index: "products", query: "status:bulk", limit: 1).total, 20_000)
        XCTAssertEqual(try reader.search(index: "products", query: "same", limit: 1).total, 20_000)
        XCTAssertEqual(try openStore().snapshot().documentCount(index: "products"), 20_000)
    }

    func testManySmallCommitsKeepSegmentsBoundedAndResultsRight() throws {
        let store = try openStore()
        for commit in 0..<40 {
            for item in 0..<5 {
                let id = String(commit * 5 + item)
                try store.upsert(index: "products", document: product(id, "item number\(id) common", price: Double(commit)))
            }
            if commit > 0 {
                try store.upsert(index: "products", document: product(String((commit - 1) * 5), "replaced common"))
                try store.delete(index: "products", id: String((commit - 1) * 5 + 1))
            }
            try store.commit(payload: ["commit": String(commit)])
            store.waitForMerges()
            let segments = try XCTUnwrap(store.snapshot().indexes["products"]).segments
            XCTAssertNil(IndexStore.mergeCandidates(segments), "no size tier is left full once merges are done")
            XCTAssertLessThanOrEqual(segments.count, 14, "at most 7 segments in each of the two lowest tiers")
        }
        XCTAssertLessThan(store.snapshot().segmentCount(index: "products"), 10)
        let check = { (snapshot: IndexSnapshot) throws in
            XCTAssertEqual(try snapshot.documentCount(index: "products"), 200 - 39)
            XCTAssertEqual(try snapshot.search(index: "products", query: "common").total, 161)
            XCTAssertEqual(try snapshot.search(index: "products", query: "replaced").total, 39)
            XCTAssertEqual(try self.ids(snapshot, "number6"), [], "deleted")
            XCTAssertEqual(try self.ids(snapshot, "number5"), [], "replaced")
            XCTAssertEqual(try self.ids(snapshot, "number8"), ["8"])
            XCTAssertEqual(try self.ids(snapshot, "number196"), ["196"])
            XCTAssertEqual(try self.ids(snapshot, "\"item number8 common\""), ["8"], "positions survive merges")
            XCTAssertEqual(try self.ids(snapshot, "\"common item\""), [])
            XCTAssertEqual(snapshot.document(index: "products", id: "10")?["name"], .string("replaced common"))
            XCTAssertEqual(try snapshot.search(index: "products", query: "price:[11 TO 12]").total, 10 - 2 - 2, "ids 55…64 minus two replaced and two deleted")
        }
        try check(store.snapshot())
        let segmentFiles = try files().filter { $0.hasSuffix(".seg") }
        XCTAssertEqual(segmentFiles.count, store.snapshot().segmentCount(index: "products"), "merged-away files are removed")
        try check(try IndexStore.openReadOnly(directory: directory))
    }

    func testChangesDuringABackgroundMergeAreCarriedOver() throws {
        let store = try openStore()
        let gate = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        store.mergeWillStart = {
            started.signal()
            gate.wait()
        }
        for id in 0..<IndexStore.mergeFactor {
            try store.upsert(index: "products", document: product(String(id), "item number\(id) common"))
            try store.commit(payload: ["commit": String(id)])
        }
        XCTAssertEqual(started.wait(timeout: .now() + 10), .success, "a full tier starts a merge")
        XCTAssertEqual(store.snapshot().segmentCount(index: "products"), IndexStore.mergeFactor, "commits do not wait for it")
        try store.delete(index: "products", id: "2")
        try store.upsert(index: "products", document: product("5", "replaced common"))
        try store.commit(payload: ["commit": "during"])
        store.mergeWillStart = nil
        gate.signal()
        store.waitForMerges()
        let check = { (snapshot: IndexSnapshot) throws in
            XCTAssertEqual(snapshot.payload, ["commit": "during"])
            XCTAssertEqual(try snapshot.documentCount(index: "products"), IndexStore.mergeFactor - 1)
            XCTAssertEqual(try self.ids(snapshot, "number2"), [], "deleted during the merge")
            XCTAssertEqual(try self.ids(snapshot, "number5"), [], "replaced during the merge")
            XCTAssertEqual(try self.ids(snapshot, "replaced"), ["5"])
            XCTAssertEqual(try snapshot.search(index: "products", query: "common").total, IndexStore.mergeFactor - 1)
        }
        XCTAssertEqual(store.snapshot().segmentCount(index: "products"), 2, "the merged segment and the last commit's")
        try check(store.snapshot())
        try check(try IndexStore.openReadOnly(directory: directory))
    }

    func testStrayFilesFromAnInterruptedCommitAreIgnoredAndRemoved() throws {
        do {
            let store = try openStore()
            try store.upsert(index: "products", document: product("1", "Red shoes"))
            try store.commit(payload: ["pos": "1"])
        }
        let manifestBefore = try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))
        // A commit killed after writing its files but before the rename of its manifest.
        try Data("{\"format\": 1, \"generation\": 99".utf8).write(to: URL(fileURLWithPath: directory + "/manifest.json.tmp"))
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: directory + "/seg-0000000000ff.seg"))
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: directory + "/seg-000000000001.77.del"))
        try Data("keep".utf8).write(to: URL(fileURLWithPath: directory + "/notes.txt"))

        let reader = try IndexStore.openReadOnly(directory: directory)
        XCTAssertEqual(reader.payload, ["pos": "1"])
        XCTAssertEqual(try ids(reader, "red"), ["1"])

        let store = try openStore()
        XCTAssertEqual(store.committedPayload, ["pos": "1"])
        XCTAssertEqual(try ids(store.snapshot(), "shoes"), ["1"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")), manifestBefore)
        let remaining = try files()
        XCTAssertFalse(remaining.contains("manifest.json.tmp"))
        XCTAssertFalse(remaining.contains("seg-0000000000ff.seg"))
        XCTAssertFalse(remaining.contains("seg-000000000001.77.del"))
        XCTAssertTrue(remaining.contains("notes.txt"), "files that are not the index's are left alone")
        try store.upsert(index: "products", document: product("2", "Green shoes"))
        try store.commit(payload: ["pos": "2"])
        XCTAssertEqual(try ids(store.snapshot(), "shoes").sorted(), ["1", "2"])
    }

    func testCorruptSegmentFileIsNamedInTheError() throws {
        do {
            let store = try openStore()
            try store.upsert(index: "products", document: product("1", "Red shoes"))
            try store.commit(payload: [:])
        }
        let segment = try XCTUnwrap(try files().first { $0.hasSuffix(".seg") })
        let path = directory + "/" + segment
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        let error = assertSearchError(.corrupt) { _ = try IndexStore.openReadOnly(directory: self.directory) }
        XCTAssertEqual(error?.file, path)
        XCTAssertTrue(error?.message.contains(segment) ?? false)
        XCTAssertTrue(error?.message.contains("rebuild") ?? false)

        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        _ = assertSearchError(.corrupt) { _ = try self.openStore() }
        try Data().write(to: URL(fileURLWithPath: path))
        _ = assertSearchError(.corrupt) { _ = try self.openStore() }
        try FileManager.default.removeItem(atPath: path)
        _ = assertSearchError(.corrupt) { _ = try self.openStore() }
    }

    func testSegmentDecodingRejectsEveryTruncation() throws {
        var builder = SegmentBuilder(fields: productSchema.fields)
        builder.add(product("1", "Red shoes", description: "very red"))
        builder.add(product("2", "Blue shoes"))
        let bytes = builder.build(name: "s").encoded()
        XCTAssertEqual(try Segment.decode(bytes, name: "s", path: "s.seg").ids, ["1", "2"])
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try Segment.decode(Array(bytes[0..<length]), name: "s", path: "s.seg"))
        }
    }

    func testDamagedSegmentBodiesWithValidChecksumsNeverCrash() throws {
        var builder = SegmentBuilder(fields: productSchema.fields)
        builder.add(product("1", "Red shoes", description: "very red", price: 5))
        builder.add(product("2", "Blue shoes", status: "sold", price: 7))
        let original = builder.build(name: "s").encoded()
        let body = Array(original.dropLast(8))
        var decoded = 0
        for index in body.indices {
            for mask: UInt8 in [0x01, 0x80, 0xFF] {
                var damaged = body
                damaged[index] ^= mask
                var writer = ByteWriter()
                writer.write(damaged)
                writer.finishWithChecksum()
                guard let segment = try? Segment.decode(writer.bytes, name: "s", path: "s.seg") else { continue }
                decoded += 1
                let view = IndexView(schema: productSchema, segments: [SegmentView(segment: segment, deletes: nil, deleteGeneration: 0)])
                let snapshot = IndexSnapshot(generation: 1, payload: [:], indexes: ["products": view])
                for query in ["red shoes", "\"red shoes\"", "sho*", "price:[1 TO 9]", "status:sold", "*:*"] {
                    _ = try snapshot.search(index: "products", query: query)
                }
            }
        }
        XCTAssertGreaterThan(decoded, 0, "some damage (inside strings) still decodes, and then searches must work")
    }

    func testCorruptManifestIsNamedInTheError() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: directory + "/manifest.json"))
        let error = assertSearchError(.corrupt) { _ = try self.openStore() }
        XCTAssertTrue(error?.message.contains("manifest.json") ?? false)
    }

    func testSecondWriterIsRefusedWithAClearMessage() throws {
        let store = try openStore()
        let error = assertSearchError(.locked) { _ = try self.openStore() }
        XCTAssertTrue(error?.message.contains(directory) ?? false)
        XCTAssertTrue(error?.message.contains("only one writer") ?? false)
        XCTAssertTrue(error?.message.contains("process \(getpid())") ?? false, error?.message ?? "")
        try store.commit(payload: ["still": "works"])
        XCTAssertEqual(store.committedPayload, ["still": "works"])
    }

    func testWriterLockIsReleasedWhenTheStoreGoesAway() throws {
        do { _ = try openStore() }
        XCTAssertNoThrow(try openStore())
    }

    func testReadOnlyOpenWhileAWriterHoldsTheDirectory() throws {
        let store = try openStore()
        let empty = try IndexStore.openReadOnly(directory: directory)
        XCTAssertEqual(empty.indexNames, ["products"])
        XCTAssertEqual(try empty.documentCount(index: "products"), 0)
        try store.upsert(index: "products", document: product("1", "Red shoes"))
        try store.commit(payload: ["pos": "9"])
        let reader = try IndexStore.openReadOnly(directory: directory)
        XCTAssertEqual(reader.payload, ["pos": "9"])
        XCTAssertEqual(try ids(reader, "shoes"), ["1"])
        XCTAssertEqual(try empty.documentCount(index: "products"), 0)
    }

    func testReadOnlyOpenOfAMissingIndexSaysWhatToCheck() {
        let error = assertSearchError(.notFound) { _ = try IndexStore.openReadOnly(directory: self.directory) }
        XCTAssertTrue(error?.message.contains("index.path") ?? false)
    }

    func testSchemaChangeIsRefused() throws {
        do { _ = try openStore() }
        var changed = productSchema
        changed.fields["price"] = .keyword
        let error = assertSearchError(.schemaMismatch) {
            _ = try IndexStore(directory: self.directory, schemas: ["products": changed])
        }
        XCTAssertTrue(error?.message.contains("remove the index directory") ?? false)
        XCTAssertNoThrow(try IndexStore(directory: directory, schemas: ["products": productSchema, "other": changed]))
    }

    func testInvalidDocumentsAndUnknownIndexesAreRefused() throws {
        let store = try openStore()
        _ = assertSearchError(.unknownIndex) { try store.upsert(index: "nope", document: self.product("1", "x")) }
        _ = assertSearchError(.unknownIndex) { try store.delete(index: "nope", id: "1") }
        _ = assertSearchError(.unknownField) {
            try store.upsert(index: "products", document: Document(id: "1", fields: ["colour": .text("red")]))
        }
        _ = assertSearchError(.fieldType) {
            try store.upsert(index: "products", document: Document(id: "1", fields: ["price": .text("red")]))
        }
        _ = assertSearchError(.unknownField) {
            try store.upsert(index: "products", document: Document(id: "1", fields: [:], stored: ["secret": .int(1)]))
        }
        _ = assertSearchError(.unknownIndex) { _ = try store.snapshot().search(index: "nope", query: "x") }
    }

    func testSeveralIndexesCommitTogether() throws {
        let tagSchema = IndexSchema(fields: ["tag": .keyword], stored: ["tag"])
        let store = try IndexStore(directory: directory, schemas: ["products": productSchema, "tags": tagSchema])
        try store.upsert(index: "products", document: product("1", "Red shoes"))
        try store.upsert(
            index: "tags", document: Document(id: "t1", fields: ["tag": .keyword("Sale")], stored: ["tag": .string("Sale")]))
        try store.commit(payload: ["pos": "1"])
        let reader = try IndexStore.openReadOnly(directory: directory)
        XCTAssertEqual(reader.indexNames, ["products", "tags"])
        XCTAssertEqual(try reader.search(index: "tags", query: "Sale").hits.map(\.id), ["t1"])
        XCTAssertEqual(try reader.search(index: "tags", query: "sale").total, 0, "keywords match exactly")
        XCTAssertEqual(try reader.search(index: "tags", query: "Sale").hits.first?.fields, ["tag": .string("Sale")])
    }

    func testReadersAlwaysSeeWholeCommitsWhileAWriterCommits() throws {
        let store = try openStore()
        let directory = self.directory
        let documents = (0..<30).map { product("d\($0)", "word\($0) common") }
        let log = ConcurrentLog()
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread {
            do {
                for (count, document) in documents.enumerated() {
                    try store.upsert(index: "products", document: document)
                    if count > 0 { try store.delete(index: "products", id: "d\(count - 1)") }
                    try store.commit(payload: ["count": String(count + 1)])
                }
            } catch {
                log.fail("writer: \(error)")
            }
            writerDone.signal()
        }
        writer.start()
        var finished = false
        while !finished && log.failures.isEmpty {
            for reader in [try IndexStore.openReadOnly(directory: directory), store.snapshot()] {
                let count = Int(reader.payload["count"] ?? "0") ?? -1
                let live = try reader.documentCount(index: "products")
                let hits = try reader.search(index: "products", query: "common").hits.map(\.id)
                let expected = count == 0 ? [] : ["d\(count - 1)"]
                if live != min(count, 1) || hits != expected {
                    log.fail("payload \(count): \(live) live, hits \(hits)")
                }
                finished = finished || count == 30
            }
        }
        writerDone.wait()
        XCTAssertEqual(log.failures, [])
    }
}

/// Failures collected from a concurrently running writer and reader.
private final class ConcurrentLog: @unchecked Sendable {
    private let lock = NSLock()
    private var storedFailures: [String] = []

    func fail(_ message: String) { lock.withLock { storedFailures.append(message) } }
    var failures: [String] { lock.withLock { storedFailures } }
}

final class IDTableTests: XCTestCase {
    func testFindsEveryIdAndNoOther() {
        let ids = (0..<50_000).map { "id-\($0 * 7)" } + ["", "ü", "a\u{0}b"]
        let table = IDTable(ids)
        for (doc, id) in ids.enumerated() { XCTAssertEqual(table.find(id, in: ids), doc, id) }
        for n in 0..<2_000 { XCTAssertNil(table.find("id-\(n * 7 + 1)", in: ids)) }
        XCTAssertNil(table.find("a", in: ids))
        XCTAssertNil(IDTable([]).find("x", in: []))
        // An id written twice: the later document, as a dictionary would say.
        let twice = ["x", "y", "x"]
        XCTAssertEqual(IDTable(twice).find("x", in: twice), 2)
        XCTAssertEqual(IDTable(twice).find("y", in: twice), 1)
    }
}

final class TermListTests: XCTestCase {
    func testTermsComeBackAndCompareByBytes() {
        let terms: TermList = ["", "a", "ab", "b", "zz", "ü", "ü中"]
        XCTAssertEqual(Array(terms), ["", "a", "ab", "b", "zz", "ü", "ü中"])
        XCTAssertEqual(terms.count, 7)
        func key(_ s: String, _ body: (UnsafeBufferPointer<UInt8>) -> Void) { var s = s; s.withUTF8(body) }
        key("ab") { XCTAssertEqual(terms.compare(2, $0), 0); XCTAssertLessThan(terms.compare(1, $0), 0); XCTAssertGreaterThan(terms.compare(3, $0), 0) }
        key("ü") { XCTAssertTrue(terms.hasPrefix(6, $0)); XCTAssertFalse(terms.hasPrefix(4, $0)) }
        key("") { XCTAssertTrue(terms.hasPrefix(0, $0)); XCTAssertEqual(terms.compare(0, $0), 0) }
        var copy = TermList()
        for i in terms.indices { copy.append(i, of: terms) }
        XCTAssertEqual(copy, terms)
    }
}

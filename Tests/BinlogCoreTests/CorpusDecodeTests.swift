import XCTest
@testable import BinlogCore

final class CorpusDecodeTests: XCTestCase {
    func testScratchDump() throws {
        guard let list = ProcessInfo.processInfo.environment["DUMP_FILES"] else { return }
        for file in list.split(separator: ",").map(String.init) {
            print("FILE \(file)")
            guard let events = try? Corpus.decode(file) else { print("FAILED"); continue }
            for e in events {
                guard case .rows(let changes) = e.event else { continue }
                for c in changes {
                    for image in [c.before, c.after] {
                        guard let image else { continue }
                        print("ROW \(e.position.offset)")
                        for v in image {
                            var s = ""
                            if let v { v.appendJSON(to: &s) } else { s = "ABSENT" }
                            if case .timestamp = v { s = "TS" + s }
                            if case .float = v { s = "FL" + s }
                            if case .enumeration(let i, _) = v { s = "\(i)" }
                            if case .set(let b, _) = v { s = "\(b)" }
                            print("V \(s)")
                        }
                    }
                }
            }
        }
    }
}

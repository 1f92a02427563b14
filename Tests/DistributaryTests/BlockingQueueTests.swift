import Distributary
import Foundation
import XCTest

/// The queue between the reader and the applier (no servers needed).
final class BlockingQueueTests: XCTestCase {
    func testPopUntilADeadlineReturnsNilWhenNothingCameAndTheElementWhenOneDid() {
        let queue = BlockingQueue<Int>(capacity: 4)
        XCTAssertNil(queue.pop(until: Date().addingTimeInterval(0.02)))
        let pusher = Thread { Thread.sleep(forTimeInterval: 0.02); queue.push(7) }
        pusher.start()
        XCTAssertEqual(queue.pop(until: Date().addingTimeInterval(5)), 7)
    }

    func testCloseDrainsThenEnds() {
        let queue = BlockingQueue<Int>(capacity: 4)
        queue.push(1)
        queue.push(2)
        queue.close()
        XCTAssertFalse(queue.push(3))
        XCTAssertEqual(queue.pop(), 1)
        XCTAssertEqual(queue.pop(until: Date().addingTimeInterval(1)), 2)
        XCTAssertNil(queue.pop())
    }
}

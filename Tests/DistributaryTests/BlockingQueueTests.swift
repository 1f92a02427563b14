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

    /// A taken element is not kept alive by the queue (it held up to 1,024 of them, which
    /// kept whole snapshot chunks and transactions in memory past the budget).
    func testTakenElementsAreReleased() {
        final class Box {}
        let queue = BlockingQueue<Box>(capacity: 2)
        weak var weakBox: Box?
        do {
            let box = Box()
            weakBox = box
            queue.push(box)
            _ = queue.pop()
        }
        XCTAssertNil(weakBox)
        for _ in 0..<3000 { queue.push(Box()); _ = queue.pop() }
        queue.push(Box())
        XCTAssertNotNil(queue.tryPop())
        XCTAssertNil(queue.tryPop())
    }
}

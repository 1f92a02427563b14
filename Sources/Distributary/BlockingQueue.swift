import Foundation

/// A bounded FIFO between two threads: `push` blocks while full (`capacity` elements, or
/// `budget` of their summed `cost` — one element is always let in), `pop` while empty.
/// Closing wakes everyone; `pop` then drains what is left and returns nil, and `push`
/// drops its element and returns false. Used between the binlog reader and the
/// router and the sinks, and between the decoding and rendering threads of `binlog dump`.
public final class BlockingQueue<Element>: @unchecked Sendable {
    /// Taken elements are set to nil at once (the array is compacted only now and then,
    /// and must not keep what it handed out alive).
    private var items: [Element?] = []
    private var head = 0
    private let capacity: Int
    private let budget: Int
    private let cost: (Element) -> Int
    private var queuedCost = 0
    private var closed = false
    private let condition = NSCondition()

    public init(capacity: Int, budget: Int = .max, cost: @escaping (Element) -> Int = { _ in 0 }) {
        self.capacity = capacity
        self.budget = budget
        self.cost = cost
    }

    /// The summed cost of the queued elements.
    public var queuedCostNow: Int {
        condition.lock()
        defer { condition.unlock() }
        return queuedCost
    }

    /// Returns false if the queue was closed (the element is dropped).
    @discardableResult
    public func push(_ element: Element) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let c = cost(element)
        while !closed && (items.count - head >= capacity || (items.count > head && queuedCost + c > budget)) { condition.wait() }
        if closed { return false }
        queuedCost += c
        items.append(element)
        condition.broadcast()
        return true
    }

    /// Waits for an element; nil once closed and empty.
    public func pop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head && !closed { condition.wait() }
        return takeLocked()
    }

    /// An element if one is ready now.
    public func tryPop() -> Element? {
        condition.lock()
        defer { condition.unlock() }
        return takeLocked()
    }

    /// Waits until `deadline` for an element; nil at the deadline, or once closed and empty.
    public func pop(until deadline: Date) -> Element? {
        condition.lock()
        defer { condition.unlock() }
        while items.count == head && !closed {
            if !condition.wait(until: deadline) { break }
        }
        return takeLocked()
    }

    private func takeLocked() -> Element? {
        guard head < items.count, let element = items[head] else { return nil }
        items[head] = nil
        queuedCost -= cost(element)
        head += 1
        if head > 1024 && head * 2 > items.count {
            items.removeFirst(head)
            head = 0
        }
        condition.broadcast()
        return element
    }

    /// Closed and drained: `pop` returns nil from now on.
    public var isFinished: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed && head == items.count
    }

    public func close() {
        condition.lock()
        closed = true
        condition.broadcast()
        condition.unlock()
    }
}

/// A queue of suspended tasks, linked through the tasks themselves so that waiting
/// and removal on cancellation allocate nothing and cost O(1).
/// `fifo` queues wake in arrival order one at a time (locks, semaphores, queue
/// getters); `barrier` queues are meant to be woken all at once (events, joins).
public final class WaitQueue {
    public enum Policy: Sendable { case fifo, barrier }
    public let policy: Policy
    // Exclusivity: used by one kernel's thread only, no access spans a call out.
    // `count` is read from other modules through `size`'s getter so that those
    // reads skip the check too.
    @exclusivity(unchecked) var size = 0
    @exclusivity(unchecked) var head: TaskRecord?
    @exclusivity(unchecked) var tail: TaskRecord?
    public var count: Int { size }

    public init(policy: Policy = .fifo) { self.policy = policy }

    public var isEmpty: Bool { size == 0 }

    func append(_ t: TaskRecord) {
        t.waitQueue = self
        t.waitPrev = tail
        t.waitNext = nil
        if let tail { tail.waitNext = t } else { head = t }
        tail = t
        size += 1
    }

    func remove(_ t: TaskRecord) {
        guard t.waitQueue === self else { return }
        if let p = t.waitPrev { p.waitNext = t.waitNext } else { head = t.waitNext }
        if let n = t.waitNext { n.waitPrev = t.waitPrev } else { tail = t.waitPrev }
        t.waitPrev = nil
        t.waitNext = nil
        t.waitQueue = nil
        size -= 1
    }

    func popFirst() -> TaskRecord? {
        guard let t = head else { return nil }
        remove(t)
        return t
    }

    /// Ids of the waiting tasks, first to be woken first.
    public var waiterIds: [Int] {
        var ids: [Int] = []
        var t = head
        while let x = t { ids.append(x.id); t = x.waitNext }
        return ids
    }
}

/// A binary min-heap of deadlines. Cancelling a deadline is O(1): the task's serial
/// changes and the stale entry is dropped when it surfaces (or in a compaction when
/// stale entries outnumber live ones, so cancelled timeouts never pile up).
struct TimerHeap {
    enum Kind: UInt8 { case sleep, timeout }
    struct Entry {
        var deadline: Double
        var serial: UInt64
        var kind: Kind
        var task: TaskRecord
    }

    private(set) var entries: [Entry] = []
    private(set) var stale = 0
    private var nextSerial: UInt64 = 1

    var liveCount: Int { entries.count - stale }

    mutating func push(_ t: TaskRecord, at deadline: Double, kind: Kind) -> UInt64 {
        let s = nextSerial
        nextSerial += 1
        entries.append(Entry(deadline: deadline, serial: s, kind: kind, task: t))
        siftUp(entries.count - 1)
        return s
    }

    /// An entry that will never fire was abandoned; note it for compaction.
    mutating func abandoned() {
        stale += 1
        if stale > 64 && stale > entries.count / 2 { compact() }
    }

    func peekDeadline() -> Double? { entries.first?.deadline }

    mutating func popFirst() -> Entry? {
        guard !entries.isEmpty else { return nil }
        let top = entries[0]
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            siftDown(0)
        }
        return top
    }

    mutating func noteStaleRemoved() { if stale > 0 { stale -= 1 } }

    private mutating func compact() {
        let live = entries.filter { e in
            e.kind == .sleep ? e.task.sleepSerial == e.serial : e.task.timeoutSerial == e.serial
        }
        entries = live
        stale = 0
        if entries.count > 1 {
            for i in stride(from: entries.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
        }
    }

    private mutating func siftUp(_ i0: Int) {
        var i = i0
        let e = entries[i]
        while i > 0 {
            let p = (i - 1) >> 1
            if entries[p].deadline <= e.deadline { break }
            entries[i] = entries[p]
            i = p
        }
        entries[i] = e
    }

    private mutating func siftDown(_ i0: Int) {
        var i = i0
        let n = entries.count
        let e = entries[i]
        while true {
            var c = 2 * i + 1
            if c >= n { break }
            if c + 1 < n && entries[c + 1].deadline < entries[c].deadline { c += 1 }
            if e.deadline <= entries[c].deadline { break }
            entries[i] = entries[c]
            i = c
        }
        entries[i] = e
    }
}

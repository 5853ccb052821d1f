/// A growable ring buffer of ready tasks.
struct ReadyQueue {
    private var buf: [TaskRecord?] = Array(repeating: nil, count: 64)
    private var headIndex = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ t: TaskRecord) {
        if count == buf.count { grow() }
        buf[(headIndex + count) & (buf.count - 1)] = t
        count += 1
    }

    mutating func popFirst() -> TaskRecord? {
        guard count > 0 else { return nil }
        let t = buf[headIndex]
        buf[headIndex] = nil
        headIndex = (headIndex + 1) & (buf.count - 1)
        count -= 1
        return t
    }

    private mutating func grow() {
        var nb = [TaskRecord?](repeating: nil, count: buf.count * 2)
        for i in 0..<count { nb[i] = buf[(headIndex + i) & (buf.count - 1)] }
        buf = nb
        headIndex = 0
    }
}

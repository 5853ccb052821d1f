/// A growable ring buffer of ready tasks. Each queued slot owns one retain of its
/// task (taken in `append`, handed to the caller by `popFirst`). Unmanaged slots are
/// a trivial type, so growing copies and frees the buffer without a retain/release
/// per task (a spawn burst grows it to the burst's size).
struct ReadyQueue {
    private var buf = [Unmanaged<TaskRecord>?](repeating: nil, count: 64)
    private var headIndex = 0
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ t: TaskRecord) {
        if count == buf.count { grow() }
        buf[(headIndex + count) & (buf.count - 1)] = .passRetained(t)
        count += 1
    }

    mutating func popFirst() -> TaskRecord? {
        guard count > 0, let u = buf[headIndex] else { return nil }
        buf[headIndex] = nil
        headIndex = (headIndex + 1) & (buf.count - 1)
        count -= 1
        return u.takeRetainedValue()
    }

    /// Gives back the retains of tasks still queued (the kernel is going away).
    mutating func removeAll() {
        while popFirst() != nil {}
    }

    private mutating func grow() {
        var nb = [Unmanaged<TaskRecord>?](repeating: nil, count: buf.count * 2)
        for i in 0..<count { nb[i] = buf[(headIndex + i) & (buf.count - 1)] }
        buf = nb
        headIndex = 0
    }
}

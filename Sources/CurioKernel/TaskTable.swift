/// Live tasks by id. Ids are handed out sequentially, so `id & mask` spreads them
/// without hashing: open addressing with linear probing finds a task in one or two
/// probes (a Dictionary pays for a seeded hash and scattered buckets).
///
/// Slots are kept in Robin Hood order (along a probe run, the distance from the home
/// slot only drops at an entry that sits at its home), so a miss stops early and a
/// removal shifts back just the displaced entries that follow it: no tombstones.
/// Plain linear probing would not do: sequential ids form one long run, which every
/// backward-shift removal would scan to its end.
public final class TaskTable {
    // Each occupied slot owns one retain of its task (taken in `insert`, given back in
    // `remove` or `deinit`). Unmanaged slots are a trivial type, so growing frees
    // the old array without the per-slot destroy calls a `[TaskRecord?]` costs.
    // Exclusivity: used by one kernel's thread only, and no access spans a call out.
    @exclusivity(unchecked) private var slots = [Unmanaged<TaskRecord>?](repeating: nil, count: 64)
    @exclusivity(unchecked) private var live = 0
    public var count: Int { live }

    init() {}

    deinit {
        for case let u? in slots { u.release() }
    }

    public var isEmpty: Bool { live == 0 }
    private var mask: Int { slots.count - 1 }

    public subscript(id: Int) -> TaskRecord? {
        guard let i = index(of: id) else { return nil }
        return slots[i]!.takeUnretainedValue()
    }

    /// The live ids, in no particular order.
    public var ids: [Int] { slots.compactMap { $0?.takeUnretainedValue().id } }

    /// Adds `t`, whose id must not be in the table yet.
    func insert(_ t: TaskRecord) {
        // At most 2/3 full, so probe runs stay short when live ids are not contiguous.
        if (live + 1) * 3 > slots.count * 2 { grow() }
        place(.passRetained(t))
        live += 1
    }

    /// Removes the task with `id`, if present.
    @discardableResult
    func remove(_ id: Int) -> TaskRecord? {
        guard var i = index(of: id) else { return nil }
        let removed = slots[i]!.takeRetainedValue()
        while true {
            let j = (i + 1) & mask
            guard let u = slots[j], distance(u, j) > 0 else { break }
            slots[i] = u
            i = j
        }
        slots[i] = nil
        live -= 1
        return removed
    }

    /// How far slot `i`, holding `u`, is from the home slot of `u`'s id.
    private func distance(_ u: Unmanaged<TaskRecord>, _ i: Int) -> Int {
        (i &- u.takeUnretainedValue().id) & mask
    }

    private func index(of id: Int) -> Int? {
        var i = id & mask
        var d = 0
        while let u = slots[i] {
            if u.takeUnretainedValue().id == id { return i }
            if distance(u, i) < d { return nil } // `id` would have displaced `u`
            i = (i + 1) & mask
            d += 1
        }
        return nil
    }

    private func place(_ u0: Unmanaged<TaskRecord>) {
        var u = u0
        var i = u.takeUnretainedValue().id & mask
        var d = 0
        while let r = slots[i] {
            let rd = distance(r, i)
            if rd < d { slots[i] = u; u = r; d = rd } // the entry nearer its home moves on
            i = (i + 1) & mask
            d += 1
        }
        slots[i] = u
    }

    private func grow() {
        let old = slots
        slots = [Unmanaged<TaskRecord>?](repeating: nil, count: old.count * 2)
        for case let u? in old { place(u) }
    }
}

import XCTest
@testable import CurioKernel

final class TaskTableTests: XCTestCase {
    private func record(_ id: Int) -> TaskRecord {
        TaskRecord(id: id, parentId: 0, daemon: false, name: "", body: ScriptedBody { _, _ in .exit })
    }

    /// Checks `table` against `model` entirely: count, every live id, the id list.
    private func assertSame(_ table: TaskTable, _ model: [Int: TaskRecord], line: UInt = #line) {
        XCTAssertEqual(table.count, model.count, line: line)
        XCTAssertEqual(table.isEmpty, model.isEmpty, line: line)
        for (id, t) in model { XCTAssertTrue(table[id] === t, "id \(id)", line: line) }
        XCTAssertEqual(table.ids.sorted(), model.keys.sorted(), line: line)
    }

    func testSequentialIdsThroughGrowthAndRemoval() {
        let table = TaskTable()
        var model: [Int: TaskRecord] = [:]
        for id in 1...5000 {
            let t = record(id)
            table.insert(t)
            model[id] = t
        }
        assertSame(table, model)
        for id in stride(from: 2, through: 5000, by: 2) {
            XCTAssertEqual(table.remove(id)?.id, id)
            model[id] = nil
        }
        assertSame(table, model)
        for id in stride(from: 2, through: 5000, by: 2) { XCTAssertNil(table[id]) }
        XCTAssertNil(table.remove(2), "already gone")
        XCTAssertNil(table[0])
        XCTAssertNil(table[5001])
    }

    func testIdsSharingAHomeSlot() {
        // Multiples of 1024 all land on slot 0 of a small table: one long probe run,
        // removed from the middle, the front and the back.
        let table = TaskTable()
        var model: [Int: TaskRecord] = [:]
        for k in 1...30 {
            let t = record(k * 1024)
            table.insert(t)
            model[t.id] = t
        }
        table.insert(record(1)) // displaced from its home by the run
        model[1] = table[1]
        assertSame(table, model)
        for k in [15, 1, 30, 2, 29, 16] {
            XCTAssertNotNil(table.remove(k * 1024))
            model[k * 1024] = nil
            assertSame(table, model)
            XCTAssertNil(table[k * 1024])
        }
        XCTAssertNil(table[31 * 1024], "a miss inside the run")
    }

    func testRandomOperationsMatchADictionary() {
        var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int { // xorshift: reproducible
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17
            return Int(rng % UInt64(n))
        }
        let table = TaskTable()
        var model: [Int: TaskRecord] = [:]
        var live: [Int] = []
        var nextId = 1
        for step in 1...40_000 {
            switch next(10) {
            case 0..<5: // insert: increasing ids with gaps, sometimes large ones
                nextId += next(4) == 0 ? 1 + next(5000) : 1
                let t = record(nextId)
                table.insert(t)
                model[nextId] = t
                live.append(nextId)
            case 5..<9 where !live.isEmpty: // remove a random live task
                let id = live.remove(at: next(live.count))
                XCTAssertTrue(table.remove(id) === model.removeValue(forKey: id))
            default: // look up or remove an id that may be absent
                let id = next(nextId + 10)
                XCTAssertTrue(table[id] === model[id])
                if next(2) == 0, model[id] == nil { XCTAssertNil(table.remove(id)) }
            }
            if step % 2000 == 0 { assertSame(table, model) }
        }
        while let id = live.popLast() {
            XCTAssertTrue(table.remove(id) === model.removeValue(forKey: id))
        }
        assertSame(table, model)
    }

    func testTheTableOwnsItsRecords() {
        weak var removed: TaskRecord?
        weak var kept: TaskRecord?
        var table: TaskTable? = TaskTable()
        do {
            let a = record(1), b = record(2)
            removed = a
            kept = b
            table!.insert(a)
            table!.insert(b)
        }
        XCTAssertNotNil(removed)
        XCTAssertNotNil(kept)
        table!.remove(1)
        XCTAssertNil(removed, "released on removal")
        XCTAssertNotNil(kept)
        table = nil
        XCTAssertNil(kept, "released with the table")
    }
}

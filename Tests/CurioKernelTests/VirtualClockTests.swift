import XCTest
import CSys
@testable import CurioKernel

/// The virtual clock: the kernel jumps to the next deadline when every task is
/// blocked and nothing external is pending, and runs at the real rate otherwise.
final class VirtualClockTests: XCTestCase {
    func testAnHourLongSleepReturnsAtOnce() throws {
        let k = try Kernel()
        k.virtualClock = true
        var woke: [Double] = []
        let start = k.clock()
        let wallStart = csys_monotonic()
        let t = k.spawn(ScriptedBody { n, r in
            if n > 0, case .value(let v) = r { woke.append(v - start) }
            return n < 2 ? .sleep(until: k.clock() + 3600) : .exit
        })
        k.runUntilComplete(t)
        XCTAssertEqual(woke.count, 2)
        XCTAssertEqual(woke[0], 3600, accuracy: 0.5)
        XCTAssertEqual(woke[1], 7200, accuracy: 0.5)
        XCTAssertLessThan(csys_monotonic() - wallStart, 60) // not two hours
        XCTAssertGreaterThanOrEqual(k.clock() - start, 7200)
    }

    func testTimersStillFireInDeadlineOrder() throws {
        let k = try Kernel()
        k.virtualClock = true
        var log: [String] = []
        let base = k.clock()
        for (name, at) in [("c", 300.0), ("a", 100.0), ("b", 200.0)] {
            k.spawn(ScriptedBody { n, _ in
                if n == 0 { return .sleep(until: base + at) }
                log.append(name)
                return .exit
            })
        }
        let main = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: base + 400) : .exit })
        k.runUntilComplete(main)
        XCTAssertEqual(log, ["a", "b", "c"])
    }

    func testNoJumpWhileIOIsPending() throws {
        let k = try Kernel()
        k.virtualClock = true
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds), 0)
        defer { close(fds[0]); close(fds[1]) }
        let start = k.clock()
        let wallStart = csys_monotonic()
        // A task waits on a socket that a 50 ms sleeper writes to. With I/O
        // pending the clock must not jump to the sleeper's deadline: the 50 ms
        // pass in real time.
        var readAt = -1.0
        let reader = k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .io(fd: fds[0], write: false) }
            readAt = k.clock() - start
            return .exit
        })
        k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: start + 0.05) }
            _ = write(fds[1], "x", 1)
            return .exit
        })
        k.runUntilComplete(reader)
        XCTAssertGreaterThanOrEqual(readAt, 0.05)
        XCTAssertGreaterThanOrEqual(csys_monotonic() - wallStart, 0.045)
    }

    func testOffByDefault() throws {
        let k = try Kernel()
        XCTAssertFalse(k.virtualClock)
        let start = k.clock()
        let t = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: start + 0.02) : .exit })
        k.runUntilComplete(t)
        XCTAssertEqual(k.clock() - csys_monotonic(), 0, accuracy: 0.001)
    }
}

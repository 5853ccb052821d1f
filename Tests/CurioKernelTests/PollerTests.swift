import XCTest
@testable import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// The poller under the socket layer: edge-triggered, one registration per fd,
/// one reader and one writer slot.
final class PollerTests: SocketPairTestCase {

    private func drain(_ fd: Int32) {
        var buf = [UInt8](repeating: 0, count: 4096)
        while read(fd, &buf, buf.count) > 0 {}
    }

    private func task(_ k: Kernel) -> TaskRecord {
        TaskRecord(id: 99, parentId: 0, daemon: false, name: "t", body: ScriptedBody { _, _ in .exit })
    }

    private func readyTasks(_ p: Poller, timeoutMs: Int32 = 100) -> [Int] {
        var out: [Int] = []
        p.poll(timeoutMs: timeoutMs, ready: { out.append($0.id) }, wake: {})
        return out
    }

    func testOneReaderAndOneWriterPerFd() throws {
        let k = try Kernel()
        let p = try Poller()
        let (a, _) = pair()
        let r1 = task(k), r2 = task(k), w = task(k)
        XCTAssertEqual(p.wait(r1, fd: a, write: false), 0)
        XCTAssertEqual(p.wait(r2, fd: a, write: false), EBUSY)
        XCTAssertEqual(p.wait(w, fd: a, write: true), 0)
        XCTAssertEqual(p.waiters, 2)
        p.cancelWait(fd: a, write: false)
        XCTAssertEqual(p.waiters, 1)
        XCTAssertEqual(p.wait(r2, fd: a, write: false), 0)
    }

    func testReadinessIsReportedOnceThenOnlyOnNewData() throws {
        let k = try Kernel()
        let p = try Poller()
        let (a, b) = pair()
        let r = task(k)
        send(b, "x")
        // Already readable when first registered: reported.
        XCTAssertEqual(p.wait(r, fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p), [99])
        // Edge-triggered: waiting again without reading gets no new edge, which is
        // why the socket layer always tries the syscall before waiting.
        XCTAssertEqual(p.wait(r, fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        send(b, "y")
        XCTAssertEqual(readyTasks(p), [99])
        drain(a)
    }

    func testPeerCloseWakesTheReader() throws {
        let k = try Kernel()
        let p = try Poller()
        let (a, b) = pair()
        XCTAssertEqual(p.wait(task(k), fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 20), [])
        close(b)
        fds.removeAll { $0 == b }
        XCTAssertEqual(readyTasks(p), [99])
    }

    func testForgetReturnsWaitersAndAllowsTheNumberToBeReused() throws {
        let k = try Kernel()
        let p = try Poller()
        let (a, b) = pair()
        XCTAssertEqual(p.wait(task(k), fd: a, write: false), 0)
        XCTAssertEqual(p.forget(fd: a).map(\.id), [99])
        XCTAssertEqual(p.waiters, 0)
        close(a)
        close(b)
        fds = []
        // The next socket likely gets the same number: it registers afresh.
        let (c, d) = pair()
        XCTAssertEqual(p.wait(task(k), fd: c, write: false), 0)
        send(d, "z")
        XCTAssertEqual(readyTasks(p), [99])
    }

    func testRegularFilesCannotBePolled() throws {
        let k = try Kernel()
        let p = try Poller()
        let fd = open("/proc/self/stat", O_RDONLY)
        XCTAssertGreaterThanOrEqual(fd, 0)
        fds.append(fd)
        XCTAssertEqual(p.wait(task(k), fd: fd, write: false), EPERM)
    }

    func testIOTrapResumesTheTaskWhenDataArrives() throws {
        let k = try Kernel()
        let (a, b) = pair()
        let reader = ScriptedBody { n, _ in n == 0 ? .io(fd: a, write: false) : .exit }
        let t = k.spawn(reader)
        k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: k.clock() + 0.01) }
            self.send(b, "data")
            return .exit
        })
        k.runUntilComplete(t)
        XCTAssertEqual(reader.resumptions, [.value(0)])
    }

    func testClosingAnFdWakesItsWaitersWithEBADF() throws {
        let k = try Kernel()
        let (a, _) = pair()
        let reader = ScriptedBody { n, _ in n == 0 ? .io(fd: a, write: false) : .exit }
        let t = k.spawn(reader)
        k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: 0) }
            k.forgetFd(a, resumeWith: -Double(EBADF))
            return .exit
        })
        k.runUntilComplete(t)
        XCTAssertEqual(reader.resumptions, [.value(-Double(EBADF))])
        XCTAssertEqual(k.poller.waiters, 0)
    }

    func testCancellingAnIOWaitFreesTheSlot() throws {
        let k = try Kernel()
        let (a, _) = pair()
        let reader = ScriptedBody { n, _ in n == 0 ? .io(fd: a, write: false) : .exit }
        let t = k.spawn(reader)
        k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: 0) }
            k.cancel(t)
            return .exit
        })
        k.runUntilComplete(t)
        XCTAssertEqual(reader.resumptions, [.cancel(.cancelled)])
        XCTAssertEqual(k.poller.waiters, 0)
        XCTAssertNil(k.fdWaiter(a, write: false))
    }
}

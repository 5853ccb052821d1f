import XCTest
@testable import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// Input readiness that comes while no task waits to read is remembered: the socket
/// layer waits right after a short TCP read, without a read that returns EAGAIN.
final class PollerReadinessTests: SocketPairTestCase {

    /// A connected TCP pair over loopback: (client, server), non-blocking.
    private func tcpPair() -> (Int32, Int32) {
        let l = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                XCTAssertEqual(bind(l, sa, len), 0)
                XCTAssertEqual(getsockname(l, sa, &len), 0)
            }
        }
        XCTAssertEqual(listen(l, 1), 0)
        let c = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { XCTAssertEqual(connect(c, $0, len), 0) }
        }
        let s = accept(l, nil, nil)
        XCTAssertEqual(fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK), 0)
        close(l)
        fds += [c, s]
        return (c, s)
    }

    private func task(_ id: Int) -> TaskRecord {
        TaskRecord(id: id, parentId: 0, daemon: false, name: "t", body: ScriptedBody { _, _ in .exit })
    }

    private func readyTasks(_ p: Poller, timeoutMs: Int32 = 100) -> [Int] {
        var out: [Int] = []
        p.poll(timeoutMs: timeoutMs, ready: { out.append($0.id) }, wake: {})
        return out
    }

    func testAnEdgeWithoutAReaderResumesTheNextReaderAtOnce() throws {
        let p = try Poller()
        let (a, b) = pair()
        let w = task(1)
        // Registered through a writer; the reader is busy elsewhere.
        XCTAssertEqual(p.wait(w, fd: a, write: true), 0)
        XCTAssertEqual(readyTasks(p), [1])
        send(b, "x")
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), []) // nobody reads: remembered
        XCTAssertEqual(p.wait(task(2), fd: a, write: false), 0)
        XCTAssertEqual(p.waiters, 1)
        // Resumed by the next poll, which does not wait out its timeout (no new
        // edge will come).
        let start = DispatchTime.now().uptimeNanoseconds
        XCTAssertEqual(readyTasks(p, timeoutMs: 10_000), [2])
        XCTAssertLessThan(DispatchTime.now().uptimeNanoseconds - start, 5_000_000_000)
        XCTAssertEqual(p.waiters, 0)
        // Used up: the next reader waits for a new edge.
        XCTAssertEqual(p.wait(task(3), fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        send(b, "y")
        XCTAssertEqual(readyTasks(p), [3])
    }

    func testAReaderThatStopsWaitingIsNotResumed() throws {
        let p = try Poller()
        let (a, b) = pair()
        XCTAssertEqual(p.wait(task(1), fd: a, write: true), 0)
        XCTAssertEqual(readyTasks(p), [1])
        send(b, "x")
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        XCTAssertEqual(p.wait(task(2), fd: a, write: false), 0)
        p.cancelWait(fd: a, write: false)
        XCTAssertEqual(p.waiters, 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 0), [])
    }

    func testTheEndOfInputIsRememberedEvenWhenItWokeAReader() throws {
        let p = try Poller()
        let (c, s) = tcpPair()
        XCTAssertEqual(p.wait(task(1), fd: s, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        // Data and FIN in one edge: the reader's short read takes the data only.
        send(c, "abc")
        shutdown(c, Int32(SHUT_WR))
        XCTAssertEqual(readyTasks(p), [1])
        XCTAssertEqual(p.wait(task(2), fd: s, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 10_000), [2])
    }

    /// The end of input is a state: however many readers come after it (short
    /// reads of the data before it), none blocks.
    func testTheEndOfInputStaysSeenForEveryLaterReader() throws {
        let p = try Poller()
        let (c, s) = tcpPair()
        XCTAssertEqual(p.wait(task(1), fd: s, write: true), 0) // registered by a writer
        XCTAssertEqual(readyTasks(p), [1])
        send(c, "abc")
        shutdown(c, Int32(SHUT_WR))
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), []) // no reader: remembered
        for id in 2...4 { // the first takes the remembered edge, the others the end
            XCTAssertEqual(p.wait(task(id), fd: s, write: false), 0)
            XCTAssertEqual(readyTasks(p, timeoutMs: 10_000), [id])
        }
    }

    func testUrgentDataIsRememberedEvenWhenItWokeAReader() throws {
        let p = try Poller()
        let (c, s) = tcpPair()
        XCTAssertEqual(p.wait(task(1), fd: s, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        // A read stops short at the urgent mark, with data still queued.
        send(c, "abc")
        XCTAssertEqual(Glibc.send(c, "d", 1, Int32(MSG_OOB)), 1)
        usleep(10_000)
        XCTAssertEqual(readyTasks(p), [1])
        XCTAssertEqual(p.wait(task(2), fd: s, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 10_000), [2])
    }

    func testForgettingTheFdForgetsItsReadiness() throws {
        let p = try Poller()
        let (a, b) = pair()
        XCTAssertEqual(p.wait(task(1), fd: a, write: true), 0)
        XCTAssertEqual(readyTasks(p), [1])
        send(b, "x")
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
        _ = p.forget(fd: a)
        // Registered afresh: epoll reports the data still queued, once.
        XCTAssertEqual(p.wait(task(2), fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p), [2])
        XCTAssertEqual(p.wait(task(3), fd: a, write: false), 0)
        XCTAssertEqual(readyTasks(p, timeoutMs: 50), [])
    }
}

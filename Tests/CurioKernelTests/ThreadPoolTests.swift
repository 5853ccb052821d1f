import XCTest
#if canImport(Glibc)
import Glibc
#endif
@testable import CurioKernel

/// The thread pool grows on demand and its idle threads exit.
final class ThreadPoolTests: XCTestCase {
    private func waitFor(_ what: String, _ cond: () -> Bool) {
        for _ in 0..<1000 where !cond() { usleep(10_000) }
        XCTAssertTrue(cond(), what)
    }

    func testIdleThreadsExit() throws {
        let inbox = try KernelInbox()
        let pool = ThreadPool(maxThreads: 8, inbox: inbox, idleExit: 0.1)
        for i in 0..<4 { pool.submit(token: i) { usleep(20_000); return i } }
        XCTAssertGreaterThan(pool.threadCount, 0)
        var results: [Int] = []
        waitFor("every job completed") {
            inbox.drain { _, v in results.append(v as! Int) }
            return results.count == 4
        }
        XCTAssertEqual(results.sorted(), [0, 1, 2, 3])
        waitFor("idle threads exited") { pool.threadCount == 0 }
        // and the pool starts threads again for new work
        pool.submit(token: 9) { 9 }
        var again: [Int] = []
        waitFor("a new job ran") {
            inbox.drain { _, v in again.append(v as! Int) }
            return again == [9]
        }
    }

    func testAtMostMaxThreads() throws {
        let inbox = try KernelInbox()
        let pool = ThreadPool(maxThreads: 2, inbox: inbox)
        for i in 0..<10 { pool.submit(token: i) { usleep(5_000); return i } }
        XCTAssertLessThanOrEqual(pool.threadCount, 2)
        var n = 0
        waitFor("all ten jobs ran on two threads") {
            inbox.drain { _, _ in n += 1 }
            return n == 10
        }
        pool.shutdown()
    }
}

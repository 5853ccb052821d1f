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

    /// A job submitted right after the previous result is taken by the thread
    /// still spinning for it, and the idle pool then sleeps: no CPU is used.
    func testSpinsBetweenSequentialJobsThenSleeps() throws {
        let inbox = try KernelInbox()
        // A 20 ms spin (50 µs in use): long enough that this thread gets to submit
        // while the pool's spins even when both share one busy CPU.
        let pool = ThreadPool(maxThreads: 4, inbox: inbox, spinAfterJob: 0.02)
        for i in 0..<200 {
            pool.submit(token: i) { i * 2 }
            var got: Int?
            while got == nil { inbox.drain(clearFd: false) { _, v in got = v as? Int } }
            XCTAssertEqual(got, i * 2)
        }
        XCTAssertGreaterThan(pool.jobsTakenSpinning.load(ordering: .relaxed), 100)
        usleep(100_000)
        var u0 = rusage(), u1 = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &u0)
        usleep(300_000)
        getrusage(Int32(RUSAGE_SELF.rawValue), &u1)
        func ms(_ t: timeval) -> Double { Double(t.tv_sec) * 1e3 + Double(t.tv_usec) / 1e3 }
        let used = ms(u1.ru_utime) + ms(u1.ru_stime) - ms(u0.ru_utime) - ms(u0.ru_stime)
        XCTAssertLessThan(used, 30, "an idle pool's threads sleep")
        pool.shutdown()
    }
}

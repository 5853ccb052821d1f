import XCTest
import Foundation
@testable import CurioKernel

/// Posts to a kernel that is going to sleep: the eventfd is written only while the
/// kernel sleeps (KernelInbox), so every post must still wake it.
final class InboxWakeupTests: XCTestCase {
    /// Ping-pong with another thread: the kernel hands it a token and sleeps until
    /// the thread posts the token back (sometimes at once, sometimes after a pause,
    /// to land on every side of the kernel's sleeping flag). A lost wake-up would
    /// leave the kernel asleep until the watchdog timer fires.
    func pingPong(spin: Double, rounds: Int) throws {
        let k = try Kernel()
        k.spinBeforeSleep = spin
        let handoff = Semaphore()
        let tokens = Locked<[Int]>([])
        let stop = Locked(false)
        var done = 0
        var t: TaskRecord!
        t = k.spawn(ScriptedBody { n, _ in
            if n >= rounds { done = n; stop.withLock { $0 = true }; handoff.post(); return .exit }
            let token = k.expectExternal { _ in k.resumeExternal(t, .value(0)) }
            tokens.withLock { $0.append(token) }
            handoff.post()
            return .external(.threadWait, cancel: nil)
        })
        let inbox = k.inbox
        let poster = Thread {
            var i = 0
            while true {
                handoff.wait()
                if stop.withLock({ $0 }) { return }
                let token = tokens.withLock { $0.removeFirst() }
                switch i % 4 {
                case 0: break
                case 1: sched_yield()
                case 2: usleep(50)
                default: usleep(1)
                }
                i += 1
                inbox.post(token: token, ())
            }
        }
        poster.start()
        var watchdogFired = false
        let watchdog = k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: k.clock() + 60) }
            watchdogFired = true
            return .exit
        })
        k.run { !t.terminated && !watchdogFired }
        XCTAssertFalse(watchdogFired, "a post did not wake the kernel")
        XCTAssertEqual(done, rounds)
        k.cancel(watchdog)
        k.runUntilComplete(watchdog)
    }

    func testNoLostWakeupWithoutSpinning() throws { try pingPong(spin: 0, rounds: 5_000) }
    func testNoLostWakeupWithSpinning() throws { try pingPong(spin: 20e-6, rounds: 5_000) }

    /// An idle kernel sleeps at once, however recently it was busy: with nothing
    /// outstanding it never spins (it uses no CPU while idle).
    func testAnIdleKernelDoesNotSpin() throws {
        let k = try Kernel()
        k.spinBeforeSleep = 0.05 // 50 ms: spins would show in the thread's CPU time
        let inbox = k.inbox
        var t: TaskRecord!
        var cpu0 = 0.0
        t = k.spawn(ScriptedBody { n, _ in
            // Some traffic first: after it the kernel may spin once (for at
            // most the 1 ms until its timer).
            if n < 20 {
                let token = k.expectExternal { _ in k.resumeExternal(t, .value(0)) }
                Thread.detachNewThread { inbox.post(token: token, ()) }
                return .external(.threadWait, cancel: nil)
            }
            if n == 20 { return .sleep(until: k.clock() + 0.001) }
            if n == 21 { cpu0 = threadCPUTime() }
            // Then 0.5 s of sleeps on timers, nothing outstanding: no spin at all.
            return n < 41 ? .sleep(until: k.clock() + 0.025) : .exit
        })
        k.runUntilComplete(t)
        let busy = threadCPUTime() - cpu0
        // Spinning before each of these sleeps would burn up to 0.5 s of CPU.
        XCTAssertLessThan(busy, 0.06, "the kernel spun while idle")
    }
}

func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

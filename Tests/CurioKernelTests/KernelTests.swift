import XCTest
@testable import CurioKernel

/// A task body driven by a closure: step n of the task gets the resumption value and
/// returns the next trap.
final class ScriptedBody: TaskBody {
    var steps = 0
    var resumptions: [Resumption] = []
    var onTerminate: (() -> Void)?
    let script: (Int, Resumption) -> Trap

    init(_ script: @escaping (Int, Resumption) -> Trap) { self.script = script }

    func step(_ task: TaskRecord, _ resume: Resumption, kernel: Kernel) -> Trap {
        defer { steps += 1 }
        if steps > 0 { resumptions.append(resume) }
        return script(steps, resume)
    }

    func terminated(_ task: TaskRecord, kernel: Kernel) { onTerminate?() }
}

final class KernelTests: XCTestCase {
    func testSpawnRunsToExit() throws {
        let k = try Kernel()
        var log: [String] = []
        let body = ScriptedBody { n, _ in
            log.append("step \(n)")
            return n < 2 ? .sleep(until: 0) : .exit
        }
        let t = k.spawn(body)
        XCTAssertEqual(t.state, .ready)
        k.runUntilComplete(t)
        XCTAssertEqual(log, ["step 0", "step 1", "step 2"])
        XCTAssertEqual(t.state, .terminated)
        XCTAssertEqual(t.cycles, 3)
        XCTAssertEqual(k.taskCount, 0)
    }

    func testFairnessACycleRunsOnlyTasksReadyAtItsStart() throws {
        let k = try Kernel()
        var log: [String] = []
        var spawned = false
        let a = k.spawn(ScriptedBody { n, _ in
            log.append("a\(n)")
            if n == 0 && !spawned {
                spawned = true
                k.spawn(ScriptedBody { _, _ in log.append("c"); return .exit })
            }
            return n < 2 ? .sleep(until: 0) : .exit
        })
        k.spawn(ScriptedBody { n, _ in
            log.append("b\(n)")
            return n < 2 ? .sleep(until: 0) : .exit
        })
        k.runUntilComplete(a)
        XCTAssertEqual(Array(log.prefix(5)), ["a0", "b0", "c", "a1", "b1"])
    }

    func testTimersFireInDeadlineOrder() throws {
        let k = try Kernel()
        var order: [Double] = []
        let start = k.clock()
        for d in [0.03, 0.01, 0.02] {
            k.spawn(ScriptedBody { n, r in
                if n == 0 { return .sleep(until: start + d) }
                if case .value(let clock) = r { XCTAssertGreaterThanOrEqual(clock, start + d) }
                order.append(d)
                return .exit
            })
        }
        let main = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: start + 0.05) : .exit })
        k.runUntilComplete(main)
        XCTAssertEqual(order, [0.01, 0.02, 0.03])
    }

    func testCancelBlockedTaskRemovesItFromTheQueue() throws {
        let k = try Kernel()
        let q = WaitQueue()
        let body = ScriptedBody { n, _ in n == 0 ? .wait(q, .lockWait) : .exit }
        let t = k.spawn(body)
        k.cycle()
        XCTAssertEqual(t.state, .lockWait)
        XCTAssertEqual(q.count, 1)
        XCTAssertTrue(k.cancel(t))
        XCTAssertEqual(q.count, 0)
        XCTAssertFalse(k.cancel(t), "only the first cancellation counts")
        k.runUntilComplete(t)
        XCTAssertEqual(body.resumptions, [.cancel(.cancelled)])
    }

    func testCancelOfAReadyTaskIsDeliveredAtItsNextBlockingCall() throws {
        let k = try Kernel()
        let body = ScriptedBody { n, _ in n < 2 ? .sleep(until: 0) : .exit }
        let t = k.spawn(body)
        XCTAssertTrue(k.cancel(t))
        XCTAssertEqual(t.cancelPending, .cancelled)
        k.runUntilComplete(t)
        XCTAssertEqual(body.resumptions.first, .cancel(.cancelled))
    }

    func testCancellationIsDeferredWhileDisabled() throws {
        let k = try Kernel()
        var t: TaskRecord!
        let start = k.clock()
        let body = ScriptedBody { n, _ in
            switch n {
            case 0: k.adjustCancelDisabled(t, by: 1); return .sleep(until: start + 0.02)
            case 1: k.adjustCancelDisabled(t, by: -1); return .sleep(until: 0)
            default: return .exit
            }
        }
        t = k.spawn(body)
        k.cycle()
        k.cancel(t)
        XCTAssertEqual(t.state, .sleep, "still sleeping: cancellation is disabled")
        k.runUntilComplete(t)
        XCTAssertEqual(body.resumptions.count, 2)
        if case .value = body.resumptions[0] {} else { XCTFail("the sleep completed normally") }
        XCTAssertEqual(body.resumptions[1], .cancel(.cancelled))
    }

    func testTimeoutInterruptsABlockedTask() throws {
        let k = try Kernel()
        var t: TaskRecord!
        var verdict: Kernel.TimeoutVerdict?
        let body = ScriptedBody { n, r in
            switch n {
            case 0:
                k.enterDeadline(t, k.clock() + 0.01)
                return .sleep(until: k.clock() + 10)
            default:
                guard case .cancel(.timeout(let clock)) = r else { XCTFail("expected a timeout"); return .exit }
                verdict = k.leaveDeadline(t, timeoutClock: clock)
                return .exit
            }
        }
        t = k.spawn(body)
        let started = k.clock()
        k.runUntilComplete(t)
        XCTAssertLessThan(k.clock() - started, 1)
        XCTAssertEqual(verdict, .ours)
        XCTAssertNil(t.timeout)
    }

    func testNestedDeadlineVerdicts() throws {
        let k = try Kernel()
        let t = k.spawn(ScriptedBody { _, _ in .exit })
        let now = k.clock()
        // outer expired, inner not: the inner block sees the outer's timeout
        k.enterDeadline(t, now - 1)
        k.enterDeadline(t, now + 100)
        XCTAssertEqual(t.timeout, now - 1, "a deadline never extends an outer one")
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: now), .outer)
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: now), .ours)
        // nothing expired: a stray timeout is uncaught
        k.enterDeadline(t, now + 100)
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: now), .uncaught)
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: nil), .propagate)
    }

    /// curio's trap_cancel_task: a cancelled task's deadlines no longer fire while
    /// the cancellation unwinds; one set during the cleanup does.
    func testCancelVoidsTheTasksDeadlines() throws {
        let k = try Kernel()
        var t: TaskRecord!
        var cleanupResumption: Resumption?
        let body = ScriptedBody { n, r in
            switch n {
            case 0:
                k.enterDeadline(t, k.clock() + 0.02)
                return .sleep(until: k.clock() + 10) // cancelled here
            case 1:
                return .sleep(until: k.clock() + 0.1) // cleanup past the old deadline
            case 2:
                cleanupResumption = r
                XCTAssertEqual(k.leaveDeadline(t, timeoutClock: nil), .propagate)
                XCTAssertNil(t.timeout)
                return .exit
            default:
                return .exit
            }
        }
        t = k.spawn(body)
        let canceller = k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: 0) }
            k.cancel(t)
            return .exit
        })
        k.runUntilComplete(t)
        _ = canceller
        guard case .value = cleanupResumption else { return XCTFail("the old deadline fired during cleanup") }
        XCTAssertEqual(body.resumptions.count, 2)
    }

    /// Leaving an inner block after a cancel does not re-arm the voided outer one.
    func testLeavingABlockAfterACancelKeepsTheOuterDeadlineVoid() throws {
        let k = try Kernel()
        let t = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: k.clock() + 10) : .exit })
        k.cycle() // t blocks
        k.enterDeadline(t, k.clock() + 0.01)
        k.enterDeadline(t, k.clock() + 100)
        k.cancel(t)
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: nil), .propagate)
        XCTAssertNil(t.timeout)
        XCTAssertEqual(k.leaveDeadline(t, timeoutClock: nil), .propagate)
        XCTAssertNil(t.timeout)
        k.runUntilComplete(t)
    }

    /// No number a trap carries can crash the kernel: NaN counts as "now" for a
    /// sleep and as "none" for a deadline; +inf sleeps until cancelled.
    func testNaNAndInfiniteTimesAreHarmless() throws {
        let k = try Kernel()
        var t: TaskRecord!
        let body = ScriptedBody { n, _ in
            switch n {
            case 0: return .sleep(until: .nan)
            case 1:
                k.enterDeadline(t, .nan)
                XCTAssertNil(t.timeout)
                return .sleep(until: -.infinity)
            default: return .exit
            }
        }
        t = k.spawn(body)
        let sleeper = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: .infinity) : .exit })
        k.run(while: { !t.terminated })
        XCTAssertFalse(sleeper.terminated)
        k.cancel(sleeper)
        k.run(while: { !sleeper.terminated })
    }

    func testCancelledTimeoutsDoNotPileUp() throws {
        let k = try Kernel()
        let t = k.spawn(ScriptedBody { _, _ in .exit })
        for _ in 0..<10_000 {
            k.enterDeadline(t, k.clock() + 60)
            _ = k.leaveDeadline(t, timeoutClock: nil)
        }
        XCTAssertEqual(k.pendingTimers, 0)
        k.runUntilComplete(t)
    }

    func testWaitQueueWakesFIFO() throws {
        let k = try Kernel()
        let q = WaitQueue()
        var order: [Int] = []
        var tasks: [TaskRecord] = []
        for i in 0..<3 {
            tasks.append(k.spawn(ScriptedBody { n, r in
                if n == 0 { return .wait(q, .queueWait) }
                if case .value(let v) = r { order.append(i * 100 + Int(v)) }
                return .exit
            }))
        }
        k.cycle()
        XCTAssertEqual(q.waiterIds, tasks.map(\.id))
        let (n, first) = k.wake(q, count: 2, value: 7)
        XCTAssertEqual(n, 2)
        XCTAssertTrue(first === tasks[0])
        k.cycle()
        XCTAssertEqual(order, [7, 107])
        k.wake(q, count: .max, value: 1)
        k.runUntilComplete(tasks[2])
        XCTAssertEqual(order, [7, 107, 201])
    }

    func testJoinWaitsForTermination() throws {
        let k = try Kernel()
        var log: [String] = []
        let child = k.spawn(ScriptedBody { n, _ in
            log.append("child \(n)")
            return n == 0 ? .sleep(until: k.clock() + 0.01) : .exit
        })
        let parent = k.spawn(ScriptedBody { n, _ in
            log.append("parent \(n)")
            return n == 0 ? .join(child) : .exit
        })
        k.runUntilComplete(parent)
        XCTAssertEqual(log, ["child 0", "parent 0", "child 1", "parent 1"])
    }

    func testWorkOnAnotherThreadWakesTheKernel() throws {
        let k = try Kernel()
        var got: Int?
        var t: TaskRecord!
        let body = ScriptedBody { n, _ in
            if n == 0 {
                k.runInThread({ () -> any Sendable in
                    usleep(20_000)
                    return 42
                }, completion: { result in
                    got = result as? Int
                    k.resumeExternal(t, .value(1))
                })
                return .external(.threadWait, cancel: nil)
            }
            return .exit
        }
        t = k.spawn(body)
        k.cycle()
        XCTAssertEqual(t.state, .threadWait)
        k.runUntilComplete(t)
        XCTAssertEqual(got, 42)
        XCTAssertEqual(body.resumptions, [.value(1)])
    }

    /// Jobs submitted back to back, before an idle thread wakes, each get a thread:
    /// two jobs that wait for each other (the two ends of a FIFO) never share one.
    func testJobsThatWaitForEachOtherGetTheirOwnThreads() throws {
        let k = try Kernel()
        var t: TaskRecord!
        var results: [Int] = []
        let body = ScriptedBody { n, _ in
            switch n {
            case 0: // one job first, so that an idle thread exists
                k.runInThread({ () -> any Sendable in 0 }, completion: { _ in k.resumeExternal(t, .value(0)) })
                return .external(.threadWait, cancel: nil)
            case 1:
                let a = Semaphore(), b = Semaphore()
                var left = 2
                for (mine, other) in [(a, b), (b, a)] {
                    k.runInThread({ () -> any Sendable in
                        other.post()
                        mine.wait()
                        return 1
                    }, completion: { r in
                        results.append(r as? Int ?? -1)
                        left -= 1
                        if left == 0 { k.resumeExternal(t, .value(0)) }
                    })
                }
                return .external(.threadWait, cancel: nil)
            default:
                return .exit
            }
        }
        t = k.spawn(body)
        let started = k.clock()
        k.run(while: { !t.terminated && k.clock() - started < 5 })
        XCTAssertEqual(results, [1, 1])
    }

    func testThreadPoolThreadsEndWithTheirKernel() throws {
        func threadCount() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").count) ?? 0
        }
        let before = threadCount()
        /// Waits once for a job on the pool, holding no reference to its kernel.
        final class OneJob: TaskBody {
            func step(_ task: TaskRecord, _ resume: Resumption, kernel: Kernel) -> Trap {
                guard task.cycles == 1 else { return .exit }
                kernel.runInThread({ () -> any Sendable in 1 }, completion: { [unowned kernel, unowned task] _ in
                    kernel.resumeExternal(task, .value(0))
                })
                return .external(.threadWait, cancel: nil)
            }
            func terminated(_ task: TaskRecord, kernel: Kernel) {}
        }
        for _ in 0..<10 {
            let k = try Kernel()
            k.runUntilComplete(k.spawn(OneJob()))
        }
        var after = threadCount()
        for _ in 0..<100 where after > before + 1 { usleep(10_000); after = threadCount() }
        XCTAssertLessThanOrEqual(after, before + 1, "idle pool threads exit when their kernel is released")
    }

    func testInboxPostFromAnotherThread() throws {
        let k = try Kernel()
        let inbox = k.inbox
        var woke = false
        let t = k.spawn(ScriptedBody { n, _ in
            if n == 0 {
                Thread.detachNewThread { usleep(10_000); inbox.wake() }
                return .sleep(until: k.clock() + 0.05)
            }
            woke = true
            return .exit
        })
        k.runUntilComplete(t)
        XCTAssertTrue(woke)
    }

    func testPlainTasksAllocateNoExtras() throws {
        // Sleeping, waiting, yielding and being woken need none of the rarely used
        // state; only a name, a timeout, a cancellation or a joiner creates it.
        let k = try Kernel()
        let q = WaitQueue()
        let t = k.spawn(ScriptedBody { n, _ in
            switch n {
            case 0: return .sleep(until: k.clock() + 0.001)
            case 1: return .wait(q, .eventWait)
            case 2: return .resume(0)
            default: return .exit
            }
        })
        let waker = k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: k.clock() + 0.005) }
            k.wake(q)
            return .exit
        })
        XCTAssertNil(k.takePendingCancellation(t))
        k.runUntilComplete(t)
        XCTAssertTrue(waker.terminated)
        XCTAssertNil(t.extras)
        XCTAssertNil(waker.extras)
        XCTAssertEqual(t.name, "")
        XCTAssertTrue(t.allowCancel)
        XCTAssertEqual(t.deadlines, [])

        let named = k.spawn(ScriptedBody { _, _ in .exit }, name: "worker")
        XCTAssertEqual(named.name, "worker")
        XCTAssertNotNil(named.extras)
    }

    func testAKernelDroppedWithReadyTasksFreesThem() throws {
        weak var first: TaskRecord?
        weak var last: TaskRecord?
        do {
            let k = try Kernel()
            // more than the ready queue's initial capacity, so it grows too
            for i in 0..<1000 {
                let t = k.spawn(ScriptedBody { _, _ in .exit })
                if i == 0 { first = t }
                last = t
            }
            XCTAssertEqual(k.readyCount, 1000)
            XCTAssertNotNil(first)
        }
        XCTAssertNil(first, "queued task records are released with their kernel")
        XCTAssertNil(last)
    }

    func testShutdownCancelsNewestFirst() throws {
        let k = try Kernel()
        var order: [Int] = []
        var ids: [Int] = []
        for _ in 0..<3 {
            let body = ScriptedBody { n, r in
                n == 0 ? .sleep(until: k.clock() + 100) : .exit
            }
            let t = k.spawn(body)
            ids.append(t.id)
            body.onTerminate = { order.append(t.id) }
        }
        let main = k.spawn(ScriptedBody { _, _ in .exit })
        k.runUntilComplete(main)
        XCTAssertEqual(order, ids.reversed())
        XCTAssertEqual(k.taskCount, 0)
    }
}

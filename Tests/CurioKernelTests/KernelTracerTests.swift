import XCTest
@testable import CurioKernel

/// Records what a kernel tells its tracer.
private final class RecordingTracer: KernelTracer {
    var log: [String] = []
    var ran: [Double] = []
    func resuming(_ t: TaskRecord, _ r: Resumption, kernel: Kernel) {
        XCTAssertTrue(kernel.current === t, "the task is current while it is resumed")
        log.append("resume \(t.id) \(r)")
    }
    func suspended(_ t: TaskRecord, _ trap: Trap, ran: Double, kernel: Kernel) {
        XCTAssertNil(kernel.current)
        XCTAssertNotNil(kernel.tasks[t.id], "still registered, even as it exits")
        self.ran.append(ran)
        switch trap {
        case .sleep: log.append("suspend \(t.id) sleep")
        case .exit: log.append("suspend \(t.id) exit")
        default: log.append("suspend \(t.id) other")
        }
    }
}

final class KernelTracerTests: XCTestCase {
    func testATracerSeesEveryStepAndTrap() throws {
        let k = try Kernel()
        let tracer = RecordingTracer()
        k.tracer = tracer
        let t = k.spawn(ScriptedBody { n, _ in n < 1 ? .sleep(until: 0) : .exit })
        k.runUntilComplete(t)
        XCTAssertEqual(tracer.log.count, 4)
        XCTAssertEqual(tracer.log[0], "resume 1 value(0.0)")
        XCTAssertEqual(tracer.log[1], "suspend 1 sleep")
        XCTAssertTrue(tracer.log[2].hasPrefix("resume 1 value("), tracer.log[2])
        XCTAssertEqual(tracer.log[3], "suspend 1 exit")
        XCTAssertTrue(tracer.ran.allSatisfy { $0 >= 0 })
    }

    func testTheTracerMeasuresHowLongAStepRan() throws {
        let k = try Kernel()
        let tracer = RecordingTracer()
        k.tracer = tracer
        let t = k.spawn(ScriptedBody { _, _ in usleep(20_000); return .exit })
        k.runUntilComplete(t)
        XCTAssertGreaterThanOrEqual(tracer.ran.first ?? 0, 0.02)
    }

    func testACancelledTaskIsResumedWithItsCancellation() throws {
        let k = try Kernel()
        let tracer = RecordingTracer()
        k.tracer = tracer
        var sleeper: TaskRecord!
        let main = k.spawn(ScriptedBody { n, _ in
            if n == 0 { return .sleep(until: 0) }
            k.cancel(sleeper)
            return .exit
        })
        sleeper = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: k.clock() + 60) : .exit })
        k.runUntilComplete(main)
        XCTAssertTrue(tracer.log.contains("resume 2 cancel(CurioKernel.Cancellation.cancelled)"), "\(tracer.log)")
        k.tracer = nil
    }
}

import XCTest
@testable import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// The kernel side of curio.signal: deliveries counted by the async-signal-safe
/// handler reach `onSignal` with their count, and wake a kernel blocked in epoll.
final class SignalKernelTests: XCTestCase {
    private func handlerInstalled(_ sig: Int32) -> Bool {
        var old = sigaction()
        sigaction(sig, nil, &old)
        let h = unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self)
        return h != 0 && h != 1
    }

    func testEveryDeliveryIsCounted() throws {
        let k = try Kernel()
        var got = 0
        k.onSignal = { sig, n in if sig == SIGUSR2 { got += n } }
        try k.watchSignal(SIGUSR2)
        let t = k.spawn(ScriptedBody { n, _ in
            if n == 0 {
                for _ in 0..<3 { kill(getpid(), SIGUSR2) }
                return .sleep(until: k.clock() + 0.05)
            }
            return .exit
        })
        k.runUntilComplete(t)
        k.unwatchSignal(SIGUSR2)
        XCTAssertEqual(got, 3)
        XCTAssertFalse(handlerInstalled(SIGUSR2), "unwatch restores the previous disposition")
    }

    func testASignalWakesAKernelBlockedInEpoll() throws {
        let k = try Kernel()
        let sleeper = k.spawn(ScriptedBody { n, _ in n == 0 ? .sleep(until: k.clock() + 30) : .exit })
        k.onSignal = { _, _ in k.cancel(sleeper) }
        try k.watchSignal(SIGUSR1)
        defer { k.unwatchSignal(SIGUSR1) }
        // Another thread signals while the kernel sits in epoll_wait.
        let thread = Thread { usleep(50_000); kill(getpid(), SIGUSR1) }
        thread.start()
        let t0 = k.clock()
        k.runUntilComplete(sleeper)
        XCTAssertLessThan(k.clock() - t0, 10)
    }
}

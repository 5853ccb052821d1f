import CurioKernel
import Synchronization

/// Where the kernel thread leaves the outcome of one call from Swift. The caller
/// may spin on it briefly (a result that comes within microseconds then needs no
/// suspension and no wake-up of a Swift thread), or suspend until it is there.
///
/// The handoff is an atomic state with release/acquire ordering on both sides,
/// so the result (and every object it holds, such as a ``LuaFunction`` made on
/// the kernel thread) is published by code ThreadSanitizer sees.
final class CallSlot: @unchecked Sendable {
    private enum State { static let pending = 0, waiting = 1, done = 2 }
    private let state = Atomic<Int>(State.pending)
    // Written once by `complete` before `state` becomes done; read after.
    private var result: Result<[LuaValue], any Error>?
    // Written by the caller before `state` becomes waiting; read by `complete`.
    private var continuation: UnsafeContinuation<Void, Never>?

    /// Stores the outcome (once, from any thread) and resumes a waiting caller.
    func complete(_ r: Result<[LuaValue], any Error>) {
        result = r
        if state.exchange(State.done, ordering: .acquiringAndReleasing) == State.waiting {
            continuation!.resume()
        }
    }

    /// Spins up to `seconds` for the outcome while `worthIt` holds (the kernel
    /// works on another CPU). Returns true if the outcome is there.
    func spin(_ seconds: Double, while worthIt: () -> Bool) -> Bool {
        let done = { self.state.load(ordering: .acquiring) == State.done }
        guard seconds > 0 else { return done() }
        return spinWait(for: seconds, until: done, while: worthIt)
    }

    /// Waits for the outcome without blocking the thread.
    func wait() async -> Result<[LuaValue], any Error> {
        if state.load(ordering: .acquiring) != State.done {
            await withUnsafeContinuation { (c: UnsafeContinuation<Void, Never>) in
                continuation = c
                if !state.compareExchange(expected: State.pending, desired: State.waiting,
                                          ordering: .acquiringAndReleasing).exchanged {
                    c.resume() // completed meanwhile
                }
            }
        }
        _ = state.load(ordering: .acquiring) // pairs with complete's release
        return result!
    }
}

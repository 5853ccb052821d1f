import CSys

/// Decides whether a thread about to wait for another one spins first, from how
/// its recent spins went. A spin pays only when the awaited thread runs on
/// another CPU meanwhile; on a loaded machine (or when the scheduler put both
/// threads on one CPU) spins time out, and then the governor stops spinning and
/// only tries again now and then.
public struct SpinGovernor: Sendable {
    /// Confidence in spinning, 0...max: +1 per spin that got its answer, -2 per
    /// spin that timed out (spinning stays on while less than a third fail).
    private var credit = 4
    private var skipped = 0
    private static let max = 8
    /// At zero credit, one wait in this many spins again (a probe).
    private static let probeEvery = 32

    public init() {}

    /// Whether to spin before this wait.
    public mutating func allows() -> Bool {
        if credit > 0 { return true }
        skipped += 1
        if skipped < SpinGovernor.probeEvery { return false }
        skipped = 0
        return true
    }

    /// Notes how a spin went.
    public mutating func record(answered: Bool) {
        credit = answered ? min(credit + 1, SpinGovernor.max) : Swift.max(credit - 2, 0)
    }
}

/// Spins (a `pause` per step, the clock read every 16 steps) until `done()` holds
/// or `seconds` have passed, stopping early once `worthIt()` (checked every 16
/// steps) no longer holds. Returns `done()`. The one spin loop of the kernel, the
/// thread pool and the embedding.
@inline(__always)
public func spinWait(for seconds: Double, until done: () -> Bool, while worthIt: () -> Bool = { true }) -> Bool {
    let end = csys_monotonic() + seconds
    var step: UInt32 = 0
    repeat {
        if done() { return true }
        if step & 15 == 0 && !worthIt() { break }
    } while csys_spin_step(&step, end) != 0
    return done()
}

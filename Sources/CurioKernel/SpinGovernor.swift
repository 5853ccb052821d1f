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

#if canImport(Glibc)
import Glibc
#endif
import CSys
import Synchronization

/// A lazily grown pool of OS threads for blocking work (name resolution, files,
/// worker Lua states). Results go back through the kernel's inbox.
final class ThreadPool: Sendable {
    typealias Job = (token: Int, work: @Sendable () -> any Sendable)
    private struct State {
        var jobs: [Job] = []
        var idle = 0
        var threads = 0
        var closing = false
    }

    private let maxThreads: Int
    private let inbox: KernelInbox
    private let state = Locked(State())
    private let signal = Semaphore()
    /// Threads spinning for a job now (at most one: more would only take CPU
    /// from the kernel and the threads that work).
    private let spinners = Atomic<Int>(0)
    /// Jobs taken while spinning (for tests).
    let jobsTakenSpinning = Atomic<Int>(0)

    /// Seconds a thread that just finished a job spins for the next one before it
    /// sleeps. A task that calls the pool in a loop submits its next job a few
    /// microseconds after the result arrives; a thread that is still awake takes
    /// it without a futex wait and wake. One task calling in sequence: ~21k round
    /// trips/s without the spin, ~90k/s with it (the C pool of benchmarks/: ~45k/s).
    /// A SpinGovernor per thread stops the spinning when jobs do not come that fast.
    /// (50 µs; tests set it.)
    let spinAfterJob: Double

    /// Seconds an idle thread waits for work before it exits.
    let idleExit: Double

    init(maxThreads: Int, inbox: KernelInbox, idleExit: Double = 30, spinAfterJob: Double = 50e-6) {
        self.maxThreads = maxThreads
        self.inbox = inbox
        self.idleExit = idleExit
        self.spinAfterJob = spinAfterJob
    }

    /// Threads alive now (for tests).
    var threadCount: Int { state.withLock { $0.threads } }

    func submit(token: Int, _ work: @escaping @Sendable () -> any Sendable) {
        let spawn = state.withLock { s -> Bool in
            s.jobs.append((token, work))
            // More queued jobs than idle threads to take them: grow. (An idle
            // thread already posted for an earlier job is not free: two jobs that
            // wait for each other, as the two ends of a FIFO do, must not share one.)
            if s.jobs.count > s.idle && s.threads < maxThreads {
                s.threads += 1
                return true
            }
            return false
        }
        if spawn { startThread(name: "curio-pool") { [self] in workLoop() } }
        signal.post()
    }

    /// Lets every thread finish its current job and exit (the kernel is gone).
    func shutdown() {
        let n = state.withLock { s -> Int in
            s.closing = true
            return s.threads
        }
        for _ in 0..<n { signal.post() }
    }

    private func workLoop() {
        var governor = SpinGovernor()
        var justWorked = false
        while true {
            state.withLock { $0.idle += 1 }
            var posted = false
            if justWorked { posted = spinForJob(&governor) }
            if !posted { posted = signal.wait(timeout: idleExit) }
            justWorked = false
            let (job, exit) = state.withLock { s -> (Job?, Bool) in
                s.idle -= 1
                if (s.closing || !posted) && s.jobs.isEmpty {
                    s.threads -= 1
                    return (nil, true)
                }
                return (s.jobs.isEmpty ? nil : s.jobs.removeFirst(), false)
            }
            if exit { return }
            guard let job else { continue }
            let result = job.work()
            inbox.post(token: job.token, result)
            justWorked = true
        }
    }

    /// Spins briefly for the next post (see `spinAfterJob`). Returns true if it
    /// took one. Never on the kernel's own CPU, where it would delay the very
    /// thread that submits.
    private func spinForJob(_ governor: inout SpinGovernor) -> Bool {
        guard governor.allows(), inbox.kernelCPUIsOther else { return false }
        guard spinners.compareExchange(expected: 0, desired: 1, ordering: .acquiring).exchanged else { return false }
        defer { spinners.store(0, ordering: .releasing) }
        let posted = signal.spin(for: spinAfterJob)
        governor.record(answered: posted)
        if posted { jobsTakenSpinning.add(1, ordering: .relaxed) }
        return posted
    }
}

/// A counting semaphore for worker threads (POSIX sem_t).
final class Semaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init(_ value: UInt32 = 0) { sem_init(sem, 0, value) }
    deinit { sem_destroy(sem); sem.deallocate() }
    func post() { sem_post(sem) }
    func wait() { while sem_wait(sem) != 0 {} }
    /// Takes a post if one comes within `seconds`, without sleeping.
    func spin(for seconds: Double) -> Bool {
        spinWait(for: seconds, until: { sem_trywait(sem) == 0 })
    }
    /// Waits at most `seconds`; false if it timed out.
    func wait(timeout seconds: Double) -> Bool {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let whole = Int(seconds)
        ts.tv_sec += whole
        ts.tv_nsec += Int((seconds - Double(whole)) * 1e9)
        if ts.tv_nsec >= 1_000_000_000 { ts.tv_sec += 1; ts.tv_nsec -= 1_000_000_000 }
        while sem_timedwait(sem, &ts) != 0 {
            if errno == ETIMEDOUT { return false }
        }
        return true
    }
}

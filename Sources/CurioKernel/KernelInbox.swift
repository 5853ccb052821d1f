import CSys
import Synchronization

/// The only door into a kernel from other threads: completions are posted here and
/// the kernel's eventfd is signalled; the kernel drains them on its own thread.
///
/// The eventfd is written only while the kernel sleeps (or is about to) in
/// epoll_wait: an awake kernel notices `pending` at its next cycle, so a post to a
/// busy or spinning kernel costs no syscall. No wake-up is lost: the kernel sets
/// `sleeping` and then re-checks `pending`; a poster adds to `pending` and then
/// reads `sleeping`. Both are sequentially consistent, so at least one of them
/// sees the other's write (a post the kernel missed finds it sleeping).
public final class KernelInbox: Sendable {
    let fd: Int32
    private let items = Locked<[(Int, any Sendable)]>([])
    /// Posted items not drained yet: lets the kernel notice them without a syscall.
    private let pending = Atomic<Int>(0)
    /// The kernel is in (or entering) epoll_wait: posts must signal the eventfd.
    private let sleeping = Atomic<Bool>(false)
    /// The kernel thread's spare batch buffer (drain swaps it with `items`, so a
    /// drain allocates nothing).
    nonisolated(unsafe) private var spare: [(Int, any Sendable)] = []

    var hasPending: Bool { pending.load(ordering: .acquiring) > 0 }

    init() throws(KernelError) {
        fd = csys_eventfd()
        if fd < 0 { throw KernelError.os("eventfd", csys_errno()) }
    }

    deinit { _ = csys_close(fd) }

    /// Posts a completion for `token` from any thread and wakes the kernel.
    public func post(token: Int, _ payload: any Sendable) {
        posterCPU.store(Int(csys_cpu()), ordering: .relaxed)
        items.withLock { $0.append((token, payload)) }
        pending.add(1, ordering: .sequentiallyConsistent)
        if sleeping.load(ordering: .sequentiallyConsistent) { csys_eventfd_signal(fd) }
    }

    /// Wakes the kernel without a payload (e.g. after setting a flag it polls).
    public func wake() { csys_eventfd_signal(fd) }

    /// The CPU the kernel thread ran on when it last woke or began to spin.
    private let cpu = Atomic<Int>(-1)
    /// The CPU of the last post's thread.
    private let posterCPU = Atomic<Int>(-1)

    /// Whether the kernel may spin for a post: the last poster (likely the next
    /// one) ran on another CPU than the kernel's.
    var posterRunsElsewhere: Bool { Self.elsewhere(posterCPU) }

    /// Whether a thread waiting for the kernel may spin: the kernel is awake (it
    /// is working, or spinning for posts) on another CPU than the caller's. A
    /// thread that spun on the kernel's own CPU would only delay it.
    public var kernelRunsElsewhere: Bool {
        !sleeping.load(ordering: .relaxed) && kernelCPUIsOther
    }

    /// Whether the kernel thread last woke on another CPU than the caller's, asleep
    /// or not (a pool thread spins for the next job only then).
    var kernelCPUIsOther: Bool { Self.elsewhere(cpu) }

    /// Whether `noted` (a CPU, -1 if unknown) is not the calling thread's.
    private static func elsewhere(_ noted: borrowing Atomic<Int>) -> Bool {
        let c = noted.load(ordering: .relaxed)
        return c < 0 || c != Int(csys_cpu())
    }

    /// Notes the kernel thread's CPU (it is awake).
    func noteCPU() { cpu.store(Int(csys_cpu()), ordering: .relaxed) }

    /// The kernel is about to sleep in epoll_wait. Returns false (and stays awake)
    /// if something was posted meanwhile.
    func prepareToSleep() -> Bool {
        sleeping.store(true, ordering: .sequentiallyConsistent)
        if pending.load(ordering: .sequentiallyConsistent) > 0 {
            sleeping.store(false, ordering: .relaxed)
            return false
        }
        return true
    }

    /// The kernel is back from epoll_wait.
    func awake() {
        sleeping.store(false, ordering: .relaxed)
        noteCPU()
    }

    /// Takes the posted items. `clearFd`: also reset the eventfd (after epoll
    /// reported it); otherwise a count left there only makes the next epoll_wait
    /// return at once.
    @discardableResult
    func drain(clearFd: Bool = true, _ body: (Int, any Sendable) -> Void) -> Int {
        if clearFd { csys_eventfd_drain(fd) }
        var batch = spare
        spare = []
        items.withLock { swap(&$0, &batch) }
        pending.subtract(batch.count, ordering: .releasing)
        for (token, payload) in batch { body(token, payload) }
        let n = batch.count
        batch.removeAll(keepingCapacity: true)
        spare = batch
        return n
    }
}

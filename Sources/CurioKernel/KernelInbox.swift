import CSys
import Synchronization

/// The only door into a kernel from other threads: completions are posted here and
/// the kernel's eventfd is signalled; the kernel drains them on its own thread.
public final class KernelInbox: Sendable {
    let fd: Int32
    private let items = PthreadMutex<[(Int, any Sendable)]>([])
    /// Posted items not drained yet: lets the kernel notice them without a syscall.
    private let pending = Atomic<Int>(0)

    var hasPending: Bool { pending.load(ordering: .acquiring) > 0 }

    init() throws(KernelError) {
        fd = csys_eventfd()
        if fd < 0 { throw KernelError.os("eventfd", csys_errno()) }
    }

    deinit { _ = csys_close(fd) }

    /// Posts a completion for `token` from any thread and wakes the kernel.
    public func post(token: Int, _ payload: any Sendable) {
        items.withLock { $0.append((token, payload)) }
        pending.add(1, ordering: .releasing)
        csys_eventfd_signal(fd)
    }

    /// Wakes the kernel without a payload (e.g. after setting a flag it polls).
    public func wake() { csys_eventfd_signal(fd) }

    func drain(_ body: (Int, any Sendable) -> Void) {
        csys_eventfd_drain(fd)
        let batch = items.withLock { v -> [(Int, any Sendable)] in
            let b = v
            v.removeAll(keepingCapacity: true)
            return b
        }
        pending.subtract(batch.count, ordering: .releasing)
        for (token, payload) in batch { body(token, payload) }
    }
}

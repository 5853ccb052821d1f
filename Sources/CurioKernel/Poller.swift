import CSys

/// epoll, edge-triggered, one registration per fd for its whole life: a blocked
/// reader or writer is recorded in a per-fd slot and the registration is never
/// modified, so waiting costs no syscall beyond the read/write that hit EAGAIN.
///
/// Input readiness that arrives while no task waits to read is remembered, and the
/// next reader to wait is resumed by the next poll instead of blocking. That lets
/// the socket layer wait straight after a short TCP read (which shows the receive
/// queue was empty, as tokio and nginx use it) without first paying for a read that
/// returns EAGAIN: data that came after that read raised an edge, which either
/// found the reader waiting or was remembered. The end of input (RDHUP, HUP) is a
/// lasting state, not an event: once seen, every later reader is resumed at once
/// (a read after the end never blocks: it returns the rest, then 0), however many
/// short reads the data before the FIN takes. An error (ERR) and urgent data (PRI)
/// are remembered once even when they woke a reader: a read stops short at the
/// urgent mark, and a UDP socket's ERR is consumed by one read. A remembered edge
/// whose data was read meanwhile costs one spurious wake-up (the retried read gets
/// EAGAIN).
final class Poller {
    static let epollIn: UInt32 = 0x001, epollPri: UInt32 = 0x002, epollOut: UInt32 = 0x004,
        epollErr: UInt32 = 0x008, epollHup: UInt32 = 0x010, epollRdHup: UInt32 = 0x2000,
        epollEt: UInt32 = 0x8000_0000
    struct Slot {
        var registered = false
        /// Input readiness that no reader took (or after which no edge may follow).
        var readable = false
        /// The end of input was seen (RDHUP/HUP): readers never need to block again.
        var ended = false
        var reader: TaskRecord?
        var writer: TaskRecord?
    }

    static let wakeTag = UInt64.max
    let epfd: Int32
    // Exclusivity: a poller belongs to one kernel's thread, and no access spans a
    // call out (the `ready` callbacks only enqueue), so these skip the dynamic check.
    @exclusivity(unchecked) private(set) var slots: [Slot] = []
    /// Tasks currently waiting on an fd.
    @exclusivity(unchecked) private(set) var waiters = 0
    /// Readers that waited on remembered readiness: resumed by the next poll.
    @exclusivity(unchecked) private var early: [Int32] = []
    @exclusivity(unchecked) var events = [csys_event](repeating: csys_event(), count: 256)

    init() throws(KernelError) {
        epfd = csys_epoll_create()
        if epfd < 0 { throw KernelError.os("epoll_create1", csys_errno()) }
    }

    deinit { _ = csys_close(epfd) }

    func watchWakeup(_ fd: Int32) throws(KernelError) {
        let r = csys_epoll_ctl(epfd, 1, fd, Poller.epollIn, Poller.wakeTag)
        if r < 0 { throw KernelError.os("epoll_ctl", -r) }
    }

    /// Records `t` as the reader/writer of `fd`, registering the fd on first use.
    /// Returns 0, or an errno (EBUSY: another task already waits the same way;
    /// EPERM: the fd cannot be polled, e.g. a regular file).
    func wait(_ t: TaskRecord, fd: Int32, write: Bool) -> Int32 {
        guard fd >= 0 else { return 9 } // EBADF
        let i = Int(fd)
        if i >= slots.count || !slots[i].registered {
            // Registered before the table grows: a number that is no open fd (EBADF)
            // never sizes the table.
            let ev = Poller.epollIn | Poller.epollPri | Poller.epollOut | Poller.epollRdHup | Poller.epollEt
            var r = csys_epoll_ctl(epfd, 1, fd, ev, UInt64(i))
            if r == -17 { r = csys_epoll_ctl(epfd, 3, fd, ev, UInt64(i)) }  // EEXIST: fd number reused
            if r < 0 { return -r }
            if i >= slots.count {
                slots.append(contentsOf: repeatElement(Slot(), count: max(i + 1 - slots.count, slots.count)))
            }
            slots[i].registered = true
        }
        if write {
            if slots[i].writer != nil { return 16 }
            slots[i].writer = t
        } else {
            if slots[i].reader != nil { return 16 }
            slots[i].reader = t
            if slots[i].readable || slots[i].ended {
                slots[i].readable = false
                early.append(fd)
            }
        }
        waiters += 1
        return 0
    }

    /// Resumes the readers queued by `wait` on remembered readiness (unless they
    /// stopped waiting meanwhile).
    private func resumeEarly(_ ready: (TaskRecord) -> Void) {
        for fd in early {
            let i = Int(fd)
            if i < slots.count, let r = slots[i].reader {
                slots[i].reader = nil
                waiters -= 1
                ready(r)
            }
        }
        early.removeAll(keepingCapacity: true)
    }

    func cancelWait(fd: Int32, write: Bool) {
        let i = Int(fd)
        guard i < slots.count else { return }
        if write, slots[i].writer != nil { slots[i].writer = nil; waiters -= 1 }
        if !write, slots[i].reader != nil { slots[i].reader = nil; waiters -= 1 }
    }

    /// The fd is about to be closed: forget its registration. Returns the tasks that
    /// were waiting on it (the caller decides what they get).
    func forget(fd: Int32) -> [TaskRecord] {
        let i = Int(fd)
        guard i >= 0, i < slots.count else { return [] }
        var out: [TaskRecord] = []
        if let r = slots[i].reader { out.append(r); waiters -= 1 }
        if let w = slots[i].writer { out.append(w); waiters -= 1 }
        if slots[i].registered { _ = csys_epoll_ctl(epfd, 2, fd, 0, 0) }
        slots[i] = Slot()
        return out
    }

    func waiting(fd: Int32, write: Bool) -> TaskRecord? {
        let i = Int(fd)
        guard i >= 0, i < slots.count else { return nil }
        return write ? slots[i].writer : slots[i].reader
    }

    /// Polls once; calls `ready` for each task whose fd became ready (or that waited
    /// on remembered readiness), and `wake` when the kernel's wake-up fd fired.
    func poll(timeoutMs: Int32, ready: (TaskRecord) -> Void, wake: () -> Void) {
        let n = events.withUnsafeMutableBufferPointer { b in
            csys_epoll_wait(epfd, b.baseAddress, Int32(b.count), early.isEmpty ? timeoutMs : 0)
        }
        defer { if !early.isEmpty { resumeEarly(ready) } }
        if n <= 0 { return }
        for k in 0..<Int(n) {
            let e = events[k]
            if e.data == Poller.wakeTag { wake(); continue }
            let i = Int(e.data)
            guard i < slots.count else { continue }
            let bad = e.events & (Poller.epollErr | Poller.epollHup) != 0
            if e.events & (Poller.epollRdHup | Poller.epollHup) != 0 { slots[i].ended = true }
            // No edge may follow an error or TCP urgent data (a read stops at its
            // mark) that a short read leaves behind: remember them past this reader.
            let once = e.events & (Poller.epollErr | Poller.epollPri) != 0
            if e.events & Poller.epollIn != 0 || once || slots[i].ended {
                if let r = slots[i].reader {
                    slots[i].reader = nil
                    waiters -= 1
                    ready(r)
                    if once { slots[i].readable = true }
                } else {
                    slots[i].readable = true
                }
            }
            if e.events & Poller.epollOut != 0 || bad, let w = slots[i].writer {
                slots[i].writer = nil
                waiters -= 1
                ready(w)
            }
        }
    }
}

public enum KernelError: Error, Equatable, CustomStringConvertible {
    case os(String, Int32)

    public var description: String {
        switch self {
        case .os(let what, let e): "\(what): errno \(e)"
        }
    }
}

import CSys

/// The curio kernel: a ready queue, a timer heap and an epoll poller, driving task
/// bodies that yield traps. One kernel belongs to one thread; several threads may
/// each run their own. Nothing here knows about Lua.
public final class Kernel {
    // Exclusivity: a kernel belongs to one thread, and no access to its properties
    // spans a call into a task body, so the properties the scheduler touches every
    // cycle skip the dynamic check (-enforce-exclusivity=checked, the default of a
    // release build). The attribute only reaches accesses compiled in this module:
    // what CurioLua reads per trap is an inlinable computed property over unchecked
    // storage (inlined, it keeps this module's unchecked access).
    // benchmarks/README.md ("Fast without our build flags") has the figures.

    /// The clock as of the start of the current cycle (monotonic seconds).
    @exclusivity(unchecked) public private(set) var now: Double
    /// The task being stepped (it is retained by the step itself, so no count here).
    public var current: TaskRecord? { @inlinable get { currentTask } }
    @exclusivity(unchecked) @usableFromInline unowned(unsafe) var currentTask: TaskRecord?
    /// Live tasks by id.
    public let tasks = TaskTable()
    /// Called on the kernel thread after a task terminated.
    @exclusivity(unchecked) public var onTerminate: ((TaskRecord) -> Void)?
    /// Called on the kernel thread, each cycle, for signals noted by `watchSignal`.
    @exclusivity(unchecked) public var onSignal: ((Int32, Int) -> Void)?
    /// Diagnostics (schedtrace, traptrace, longblock): told about every step while
    /// set. Nil (the default) costs one branch per step.
    public var tracer: KernelTracer? { didSet { tracing = tracer != nil } }
    @exclusivity(unchecked) private var tracing = false
    public let inbox: KernelInbox
    /// Called on the kernel thread for items posted to the inbox with a token <= 0
    /// (free for the embedder: the kernel's own tokens are positive).
    public var onPost: ((Int, any Sendable) -> Void)?
    /// Seconds the kernel spins on its inbox before sleeping in epoll_wait, when a
    /// post from another thread is likely soon (0, the default: never spins). A
    /// few microseconds save the sleeping and waking of a cross-thread round trip;
    /// an idle kernel still sleeps at once. Embedding hosts set it.
    public var spinBeforeSleep: Double = 0
    /// Called on the kernel thread at the end of each cycle, once the cycle's ready
    /// tasks ran (an embedder hands results to other threads in one batch).
    @exclusivity(unchecked) public var afterCycle: (() -> Void)?
    @exclusivity(unchecked) private var inboxActive = false
    private var spinGovernor = SpinGovernor()

    @exclusivity(unchecked) var ready = ReadyQueue()
    @exclusivity(unchecked) var timers = TimerHeap()
    let poller: Poller
    private var nextTaskId = 1
    private var externalWaiters = 0
    @exclusivity(unchecked) private var watchedSignals: [Int32] = []
    @exclusivity(unchecked) private var pendingExternal: [Int: (any Sendable) -> Void] = [:]
    private var nextExternalToken = 1
    private var pool: ThreadPool?
    private var threadPool: ThreadPool {
        if let p = pool { return p }
        let p = ThreadPool(maxThreads: 64, inbox: inbox)
        pool = p
        return p
    }

    public init() throws(KernelError) {
        now = csys_monotonic()
        poller = try Poller()
        inbox = try KernelInbox()
        try poller.watchWakeup(inbox.fd)
    }

    deinit {
        pool?.shutdown()
        ready.removeAll()
    }

    /// The monotonic clock now (not the cached cycle time), plus the jumps of the
    /// virtual clock.
    @inline(__always) public func clock() -> Double { csys_monotonic() + clockOffset }

    /// Seconds the virtual clock has jumped ahead of the monotonic clock.
    private var clockOffset = 0.0
    /// Virtual time (trio's autojump clock): whenever every task is blocked and no
    /// I/O, thread or process work is pending, the clock jumps to the next
    /// deadline instead of sleeping. Between jumps it runs at the real rate, so a
    /// test waiting on real I/O still works. Checked only when nothing is ready.
    public var virtualClock = false

    public var taskCount: Int { tasks.count }
    public var readyCount: Int { ready.count }
    public var pendingTimers: Int { timers.liveCount }

    // MARK: tasks

    @discardableResult
    public func spawn(_ body: TaskBody, parent: Int = 0, daemon: Bool = false, name: String = "",
                      hostRef: Int32 = 0) -> TaskRecord {
        let t = TaskRecord(id: nextTaskId, parentId: parent, daemon: daemon, name: name, body: body)
        t.hostRef = hostRef
        nextTaskId += 1
        tasks.insert(t)
        enqueue(t, .value(0))
        return t
    }

    /// Cancels `t`: delivered at its current blocking call, or at its next one if it
    /// is running, ready, or has cancellation disabled. Returns false if `t` had
    /// terminated or was already cancelled (only the first cancellation counts).
    @discardableResult
    public func cancel(_ t: TaskRecord, _ why: Cancellation = .cancelled) -> Bool {
        if t.terminated || t.cancelled { return false }
        t.cancelled = true
        // As curio's trap_cancel_task: the task's deadlines no longer apply, so none
        // fires while the cancellation unwinds (its cleanup may still set new ones).
        if let x = t.extras, !x.deadlines.isEmpty {
            for i in x.deadlines.indices { x.deadlines[i] = .infinity }
            setTimeout(t, x, nil)
        }
        if t.isBlocked && t.allowCancel {
            unblock(t)
            enqueue(t, .cancel(why))
        } else {
            t.cancelPending = why
        }
        return true
    }

    /// Wakes up to `count` tasks of `q` (FIFO), each resumed with `value`.
    /// Returns the woken tasks' count and the first one.
    @discardableResult
    public func wake(_ q: WaitQueue, count: Int = 1, value: Double = 0) -> (Int, TaskRecord?) {
        var n = 0
        var first: TaskRecord?
        while n < count, let t = q.popFirst() {
            t.isBlocked = false
            enqueue(t, .value(value))
            if first == nil { first = t }
            n += 1
        }
        return (n, first)
    }

    /// Resumes a task blocked on an `.external` trap (thread pool, process pool...).
    public func resumeExternal(_ t: TaskRecord, _ r: Resumption) {
        guard t.isBlocked, t.externalCancel != nil else { return }
        t.externalCancel = nil
        externalWaiters -= 1
        t.isBlocked = false
        enqueue(t, r)
    }

    /// Disables (`+1`) or re-enables (`-1`) cancellation delivery for `t`.
    public func adjustCancelDisabled(_ t: TaskRecord, by d: Int) {
        t.cancelDisabled = max(0, t.cancelDisabled + d)
    }

    public func takePendingCancellation(_ t: TaskRecord) -> Cancellation? {
        defer { t.extras?.cancelPending = nil }
        return t.cancelPending
    }

    // MARK: deadlines (timeout_after)

    /// Enters a timeout block with an absolute deadline (the task's effective
    /// deadline is the smallest on its stack). A NaN deadline counts as none.
    public func enterDeadline(_ t: TaskRecord, _ deadline: Double) {
        let x = t.extrasForWrite
        let d = deadline.isNaN ? .infinity : deadline
        x.deadlines.append(d)
        let effective = min(x.timeout ?? d, d)
        setTimeout(t, x, effective.isFinite ? effective : nil)
    }

    public enum TimeoutVerdict: Int {
        /// Nothing to change: no timeout involved, or pass the error on as it is.
        case propagate = 0
        /// This block's own deadline expired: it gets `TaskTimeout`.
        case ours = 1
        /// An outer deadline expired: this block sees `TimeoutCancellationError`.
        case outer = 2
        /// A timeout escaped although no enclosing deadline expired.
        case uncaught = 3
    }

    /// Leaves the innermost timeout block, restoring the enclosing blocks' deadline
    /// (the smallest left on the stack; a cancellation voids them). `timeoutClock` is the clock carried by the timeout error the
    /// block is exiting with (nil if it exits normally or with another error); the
    /// verdict is curio's rule for nesting.
    public func leaveDeadline(_ t: TaskRecord, timeoutClock: Double?) -> TimeoutVerdict {
        let x = t.extrasForWrite
        var verdict = TimeoutVerdict.propagate
        if let clock = timeoutClock {
            if let n = x.deadlines.firstIndex(where: { $0 <= clock }) {
                verdict = n < x.deadlines.count - 1 ? .outer : .ours
            } else {
                verdict = .uncaught
            }
        }
        if !x.deadlines.isEmpty { x.deadlines.removeLast() }
        let remaining = x.deadlines.min() ?? .infinity
        let prior: Double? = remaining.isFinite ? remaining : nil
        let nowClock = clock()
        if let p = prior, p <= nowClock {
            // The enclosing deadline has already passed: deliver it at the next
            // blocking call, never at this point of unwinding.
            setTimeout(t, x, nil)
            x.timeout = p
            if x.cancelPending == nil { x.cancelPending = .timeout(clock: nowClock) }
        } else {
            setTimeout(t, x, prior)
            if case .timeout = x.cancelPending { x.cancelPending = nil }
        }
        return verdict
    }

    private func setTimeout(_ t: TaskRecord, _ x: TaskRecord.Extras, _ d: Double?) {
        if x.timeout == d && (d == nil || x.timeoutSerial != 0) { return }
        if x.timeoutSerial != 0 { x.timeoutSerial = 0; timers.abandoned() }
        x.timeout = d
        if let d { x.timeoutSerial = timers.push(t, at: d, kind: .timeout) }
    }

    // MARK: external work

    /// Runs `work` on the kernel's thread pool; `completion` runs on the kernel
    /// thread with its result. Pair it with an `.external` trap to block a task.
    public func runInThread(_ work: @escaping @Sendable () -> any Sendable,
                            completion: @escaping (any Sendable) -> Void) {
        threadPool.submit(token: expectExternal(completion), work)
    }

    /// A token for a completion another thread will post to the inbox later
    /// (`inbox.post(token:)`); `completion` runs on the kernel thread. Used by
    /// waiters on objects shared between threads (Universal queues and events).
    public func expectExternal(_ completion: @escaping (any Sendable) -> Void) -> Int {
        let token = nextExternalToken
        nextExternalToken += 1
        pendingExternal[token] = completion
        return token
    }

    /// Drops an expected completion: a later post of `token` is ignored.
    public func forgetExternal(_ token: Int) {
        pendingExternal[token] = nil
    }

    /// Notes deliveries of `sig` (via the wake-up fd); they are reported through
    /// `onSignal` on the kernel thread.
    public func watchSignal(_ sig: Int32) throws(KernelError) {
        let r = csys_signal_watch(sig, inbox.fd)
        if r < 0 { throw KernelError.os("sigaction", -r) }
        if !watchedSignals.contains(sig) { watchedSignals.append(sig) }
    }

    public func unwatchSignal(_ sig: Int32) {
        _ = csys_signal_restore(sig)
        watchedSignals.removeAll { $0 == sig }
    }

    /// Forgets the epoll registration of `fd` before it is closed; tasks waiting on
    /// it are resumed with `value` (the Lua side passes -EBADF).
    public func forgetFd(_ fd: Int32, resumeWith value: Double) {
        for t in poller.forget(fd: fd) where t.isBlocked {
            t.ioFd = -1
            t.isBlocked = false
            enqueue(t, .value(value))
        }
    }

    public func fdWaiter(_ fd: Int32, write: Bool) -> TaskRecord? { poller.waiting(fd: fd, write: write) }

    // MARK: running

    /// Runs until `main` terminates, then cancels the remaining tasks (newest
    /// first) and runs until they are gone.
    public func runUntilComplete(_ main: TaskRecord) {
        while !main.terminated { cycle() }
        shutdown()
    }

    /// Cancels every remaining task, newest first, and waits for them.
    public func shutdown() {
        while !tasks.isEmpty {
            for id in tasks.ids.sorted(by: >) {
                if let t = tasks[id] { cancel(t) }
            }
            let before = tasks.count
            var spins = 0
            while tasks.count == before && spins < 1000 { cycle(); spins += 1 }
        }
    }

    /// Runs cycles while `condition` holds.
    public func run(while condition: () -> Bool) {
        while condition() { cycle() }
    }

    /// One scheduler cycle: poll for I/O (without blocking if tasks are ready),
    /// fire due timers, then run the tasks that were ready at the cycle's start.
    public func cycle() {
        // Only fds need epoll while tasks are ready: completions from other threads
        // and signals are noticed through atomics, without a syscall.
        let mustPoll = poller.waiters > 0
        if inbox.hasPending || (!watchedSignals.isEmpty && csys_signal_any() != 0) { drainInbox(clearFd: false) }
        if ready.isEmpty {
            var ms: Int32 = -1
            if let d = timers.peekDeadline() {
                if virtualClock && !mustPoll && externalWaiters == 0 && pendingExternal.isEmpty
                    && !inbox.hasPending {
                    let t = clock()
                    if d > t { clockOffset += d - t }
                }
                ms = msUntil(d)
            }
            var timeout = tasks.isEmpty && ms < 0 ? 0 : ms
            // About to sleep: spin briefly first if another thread is expected to
            // post soon, then sleep only if nothing was posted (KernelInbox).
            if timeout != 0 && spinBeforeSleep > 0 && wakeupLikely() && spinGovernor.allows() {
                let answered = spinOnInbox(for: timeout < 0 ? spinBeforeSleep : min(spinBeforeSleep, Double(timeout) / 1000))
                spinGovernor.record(answered: answered)
                if answered { timeout = 0 } else if timeout > 0, let d = timers.peekDeadline() { timeout = msUntil(d) }
            }
            let sleeps = timeout != 0 && inbox.prepareToSleep()
            if sleeps || mustPoll || tasks.isEmpty {
                poller.poll(timeoutMs: sleeps ? timeout : 0, ready: ioReady, wake: drainInbox)
            }
            if sleeps { inbox.awake() }
            if inbox.hasPending { drainInbox(clearFd: false) }
        } else if mustPoll {
            poller.poll(timeoutMs: 0, ready: ioReady, wake: drainInbox)
        }
        now = clock()
        fireTimers()
        var n = ready.count
        while n > 0, let t = ready.popFirst() {
            n -= 1
            t.inReadyQueue = false
            step(t)
        }
        if let f = afterCycle { f() }
    }

    private func ioReady(_ t: TaskRecord) {
        t.ioFd = -1
        t.isBlocked = false
        enqueue(t, .value(0))
    }

    /// Milliseconds until `deadline`, rounded up (0 if due), for epoll_wait.
    private func msUntil(_ deadline: Double) -> Int32 {
        let dt = (deadline - clock()) * 1000
        return dt <= 0 ? 0 : dt < 3_600_000 ? Int32(dt.rounded(.up)) : 3_600_000
    }

    /// Spins up to `seconds` (never past the next timer) for a post. Returns true
    /// if one came.
    private func spinOnInbox(for seconds: Double) -> Bool {
        inboxActive = false
        inbox.noteCPU()
        // (A poster on this very CPU cannot run while the kernel spins.)
        return spinWait(for: seconds, until: { inbox.hasPending }, while: { inbox.posterRunsElsewhere })
    }

    /// A post is likely soon: results of other threads are outstanding, or the
    /// inbox delivered something since the last spin (requests come in bursts).
    /// Otherwise the kernel sleeps at once: an idle kernel never spins.
    private func wakeupLikely() -> Bool {
        inboxActive || externalWaiters > 0 || !pendingExternal.isEmpty
    }

    private func drainInbox() { drainInbox(clearFd: true) }

    private func drainInbox(clearFd: Bool) {
        let n = inbox.drain(clearFd: clearFd) { token, payload in
            if let c = pendingExternal.removeValue(forKey: token) { c(payload) } else if token <= 0 { onPost?(token, payload) }
        }
        if n > 0 { inboxActive = true }
        for s in watchedSignals {
            let n = Int(csys_signal_take(s))
            if n > 0 { onSignal?(s, n) }
        }
    }

    private func fireTimers() {
        while let d = timers.peekDeadline(), d <= now, let e = timers.popFirst() {
            let t = e.task
            switch e.kind {
            case .sleep:
                guard t.sleepSerial == e.serial else { timers.noteStaleRemoved(); continue }
                t.sleepSerial = 0
                t.isBlocked = false
                enqueue(t, .value(now))
            case .timeout:
                // Timeout entries come from setTimeout: the task has extras.
                guard let x = t.extras, x.timeoutSerial == e.serial else { timers.noteStaleRemoved(); continue }
                x.timeoutSerial = 0
                if t.terminated { continue }
                if t.isBlocked && x.cancelDisabled == 0 {
                    unblock(t)
                    enqueue(t, .cancel(.timeout(clock: now)))
                } else if x.cancelPending == nil {
                    x.cancelPending = .timeout(clock: now)
                }
            }
        }
    }

    private func step(_ t: TaskRecord) {
        currentTask = t
        t.state = .running
        t.cycles += 1
        let r = t.resumption
        t.resumption = .value(0)
        let trap = tracing ? tracedStep(t, r) : t.body.step(t, r, kernel: self)
        currentTask = nil
        handle(trap, t)
    }

    /// A step told to the tracer: before, and after with how long it ran (before
    /// the kernel acts on the trap, so the task is still registered).
    @inline(never) // keeps the untraced step small
    private func tracedStep(_ t: TaskRecord, _ r: Resumption) -> Trap {
        guard let tracer else { return t.body.step(t, r, kernel: self) }
        tracer.resuming(t, r, kernel: self)
        let start = csys_monotonic()
        let trap = t.body.step(t, r, kernel: self)
        let ran = csys_monotonic() - start
        currentTask = nil
        tracer.suspended(t, trap, ran: ran, kernel: self)
        return trap
    }

    private func handle(_ trap: Trap, _ t: TaskRecord) {
        if case .exit = trap { terminate(t); return }
        // Without extras nothing can be pending: one nil check on the hot path.
        if let x = t.extras, x.cancelDisabled == 0, let c = x.cancelPending {
            x.cancelPending = nil
            enqueue(t, .cancel(c))
            return
        }
        switch trap {
        case .sleep(let until):
            if !(until > now) { // NaN too: never a timer entry that cannot be ordered
                enqueue(t, .value(now))
            } else {
                t.sleepSerial = timers.push(t, at: until, kind: .sleep)
                block(t, .sleep)
            }
        case .wait(let q, let state):
            q.append(t)
            block(t, state)
        case .io(let fd, let write):
            let err = poller.wait(t, fd: fd, write: write)
            if err != 0 {
                enqueue(t, .value(-Double(err)))
            } else {
                t.ioFd = fd
                t.ioWrite = write
                block(t, write ? .writeWait : .readWait)
            }
        case .join(let other):
            if other.terminated {
                enqueue(t, .value(0))
            } else {
                let q = other.joiners ?? WaitQueue(policy: .barrier)
                other.joiners = q
                q.append(t)
                block(t, .joinWait)
            }
        case .external(let state, let cancel):
            t.externalCancel = cancel ?? { _ in }
            externalWaiters += 1
            block(t, state)
        case .resume(let v):
            enqueue(t, .value(v))
        case .exit:
            break
        }
    }

    private func block(_ t: TaskRecord, _ s: TaskState) {
        t.state = s
        t.isBlocked = true
    }

    private func enqueue(_ t: TaskRecord, _ r: Resumption) {
        t.resumption = r
        t.isBlocked = false
        t.state = .ready
        if !t.inReadyQueue {
            t.inReadyQueue = true
            ready.append(t)
        }
    }

    /// Takes a blocked task out of whatever it waits on.
    private func unblock(_ t: TaskRecord) {
        if let q = t.waitQueue { q.remove(t) }
        if t.sleepSerial != 0 { t.sleepSerial = 0; timers.abandoned() }
        if t.ioFd >= 0 { poller.cancelWait(fd: t.ioFd, write: t.ioWrite); t.ioFd = -1 }
        if let c = t.externalCancel {
            t.externalCancel = nil
            externalWaiters -= 1
            c(t)
        }
        t.isBlocked = false
    }

    private func terminate(_ t: TaskRecord) {
        t.state = .terminated
        tasks.remove(t.id)
        if let x = t.extras {
            if x.timeoutSerial != 0 { x.timeoutSerial = 0; timers.abandoned() }
            x.cancelPending = nil
            if let j = x.joiners { wake(j, count: Int.max) }
        }
        t.body.terminated(t, kernel: self)
        onTerminate?(t)
    }
}

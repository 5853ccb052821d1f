/// What a task is doing, as curio names it.
public enum TaskState: Int, Sendable {
    case ready = 0, running, sleep, readWait, writeWait, eventWait, lockWait, queueWait,
         joinWait, threadWait, processWait, terminated

    public var name: String {
        switch self {
        case .ready: "READY"
        case .running: "RUNNING"
        case .sleep: "SLEEP"
        case .readWait: "READ_WAIT"
        case .writeWait: "WRITE_WAIT"
        case .eventWait: "EVENT_WAIT"
        case .lockWait: "LOCK_WAIT"
        case .queueWait: "QUEUE_WAIT"
        case .joinWait: "JOIN_WAIT"
        case .threadWait: "THREAD_WAIT"
        case .processWait: "PROCESS_WAIT"
        case .terminated: "TERMINATED"
        }
    }
}

/// Why a task is being unwound. `custom` carries an embedder-defined code
/// (the Lua side uses it for `task:cancel{error=...}`).
public enum Cancellation: Equatable, Sendable {
    case cancelled
    case timeout(clock: Double)
    case custom(Int)
}

/// How a blocked task is resumed: with a value, or with a cancellation raised at
/// the blocking call.
public enum Resumption: Equatable, Sendable {
    case value(Double)
    case cancel(Cancellation)
}

/// A task body is whatever the kernel steps: a Lua coroutine, or a Swift state machine
/// in tests. `step` runs the task until it traps, and must not block the thread.
public protocol TaskBody: AnyObject {
    func step(_ task: TaskRecord, _ resume: Resumption, kernel: Kernel) -> Trap
    /// Called once after the task terminated (the body may release resources).
    func terminated(_ task: TaskRecord, kernel: Kernel)
}

/// A blocking request from a task to the kernel (curio's "trap").
public enum Trap {
    /// Suspend until the kernel clock reaches `deadline` (absolute). A deadline in
    /// the past or now puts the task at the back of the ready queue.
    case sleep(until: Double)
    /// Suspend on a wait queue until woken (with the waker's value) or cancelled.
    case wait(WaitQueue, TaskState)
    /// Suspend until `fd` is readable (`write == false`) or writable.
    case io(fd: Int32, write: Bool)
    /// Suspend until the task terminates.
    case join(TaskRecord)
    /// Suspend until `resumeLater` is called by whoever owns the operation
    /// (thread pool, process pool); `cancel` is invoked if cancelled first.
    case external(TaskState, cancel: ((TaskRecord) -> Void)?)
    /// Do not suspend: resume at once (at the back of the ready queue) with `value`.
    case resume(Double)
    /// The task finished.
    case exit
}

/// The kernel's record of one task. One exists per live task, so it keeps only what
/// every task uses; the rest lives in `extras`, allocated on first use.
public final class TaskRecord {
    // Stored properties are laid out in declaration order: 8-byte fields first,
    // then the Int32s, then the resumption (9 bytes) and the one-byte fields, so
    // nothing is padded (127 bytes with the object header).
    //
    // Exclusivity: a task record is touched only by its kernel's thread and no
    // access spans a call into the task's body, so the fields used on every step
    // skip the dynamic check. `@exclusivity(unchecked)` only reaches accesses
    // compiled in this module, so what other modules read per step (the body:
    // cycles, hostPointer, hostRef, state) is an inlinable computed property over
    // it (inlined, it keeps this module's unchecked access).
    public let id: Int
    public let parentId: Int
    public let body: TaskBody
    @exclusivity(unchecked) @usableFromInline var cycleCount = 0
    /// Free for the embedder's body (the Lua side keeps the task's coroutine and the
    /// registry reference of its Lua object here, so one body serves every task).
    @exclusivity(unchecked) @usableFromInline var hostPointerStorage: OpaquePointer?

    // Kernel bookkeeping for the current wait (one at a time).
    @exclusivity(unchecked) var waitQueue: WaitQueue?
    @exclusivity(unchecked) var waitPrev: TaskRecord?
    @exclusivity(unchecked) var waitNext: TaskRecord?
    @exclusivity(unchecked) var sleepSerial: UInt64 = 0
    /// Timeouts, cancellation state, joiners and the name: nil until one is used.
    @exclusivity(unchecked) var extras: Extras?

    @exclusivity(unchecked) @usableFromInline var hostRefStorage: Int32 = 0
    @exclusivity(unchecked) var ioFd: Int32 = -1
    @exclusivity(unchecked) var resumption: Resumption = .value(0)
    public let daemon: Bool
    @exclusivity(unchecked) @usableFromInline var stateStorage: TaskState = .ready
    /// True once `cancel` has been called: only the first cancellation counts.
    @exclusivity(unchecked) public internal(set) var cancelled = false
    @exclusivity(unchecked) var ioWrite = false
    @exclusivity(unchecked) var isBlocked = false
    @exclusivity(unchecked) var inReadyQueue = false

    init(id: Int, parentId: Int, daemon: Bool, name: String, body: TaskBody) {
        self.id = id
        self.parentId = parentId
        self.daemon = daemon
        self.body = body
        if !name.isEmpty { extrasForWrite.name = name }
    }

    /// Times the task was stepped.
    public internal(set) var cycles: Int {
        @inlinable get { cycleCount }
        set { cycleCount = newValue }
    }
    public var hostPointer: OpaquePointer? {
        @inlinable get { hostPointerStorage }
        @inlinable set { hostPointerStorage = newValue }
    }
    /// Free for the embedder (the Lua side: the registry reference of the task object).
    public var hostRef: Int32 {
        @inlinable get { hostRefStorage }
        @inlinable set { hostRefStorage = newValue }
    }
    public internal(set) var state: TaskState {
        @inlinable get { stateStorage }
        set { stateStorage = newValue }
    }

    public var terminated: Bool { state == .terminated }

    /// State most tasks never touch (a spawned-and-joined task needs none of it).
    /// (Exclusivity unchecked: kernel-thread only, as the record's own fields.)
    final class Extras {
        @exclusivity(unchecked) var name = ""
        @exclusivity(unchecked) var deadlines: [Double] = []
        @exclusivity(unchecked) var cancelDisabled = 0
        @exclusivity(unchecked) var timeoutSerial: UInt64 = 0
        @exclusivity(unchecked) var externalCancel: ((TaskRecord) -> Void)?
        @exclusivity(unchecked) var joiners: WaitQueue?
        @exclusivity(unchecked) var timeout: Double?
        @exclusivity(unchecked) var cancelPending: Cancellation?
    }

    /// The extras, created on first write.
    var extrasForWrite: Extras {
        if let x = extras { return x }
        let x = Extras()
        extras = x
        return x
    }

    // These read defaults while `extras` is nil. Setters create it, so the kernel
    // clears a field through `extras?` instead: clearing never allocates.

    public var name: String {
        get { extras?.name ?? "" }
        set { if extras != nil || !newValue.isEmpty { extrasForWrite.name = newValue } }
    }
    /// Deadlines of the enclosing `timeout_after` blocks, outermost first.
    public var deadlines: [Double] { extras?.deadlines ?? [] }
    /// Depth of `disable_cancellation` blocks; cancellation is delivered only at 0.
    public internal(set) var cancelDisabled: Int {
        get { extras?.cancelDisabled ?? 0 }
        set { extrasForWrite.cancelDisabled = newValue }
    }
    public var allowCancel: Bool { (extras?.cancelDisabled ?? 0) == 0 }
    /// Tasks waiting for this one to end (created on first use: most tasks are
    /// never joined while running).
    public internal(set) var joiners: WaitQueue? {
        get { extras?.joiners }
        set { extrasForWrite.joiners = newValue }
    }
    /// The effective deadline (the earliest of the stack), if any.
    public var timeout: Double? { extras?.timeout }
    /// A cancellation waiting for the next blocking call.
    public internal(set) var cancelPending: Cancellation? {
        get { extras?.cancelPending }
        set { extrasForWrite.cancelPending = newValue }
    }
    var timeoutSerial: UInt64 { extras?.timeoutSerial ?? 0 }
    var externalCancel: ((TaskRecord) -> Void)? {
        get { extras?.externalCancel }
        set { extrasForWrite.externalCancel = newValue }
    }
}

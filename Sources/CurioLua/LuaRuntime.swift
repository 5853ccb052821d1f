import CLua54
import CLuaShim
import CSys
import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// One Lua state and the kernel that runs its tasks. Used by one thread.
public final class LuaRuntime {
    public enum Error: Swift.Error, CustomStringConvertible {
        case cannotCreateState(String)
        public var description: String {
            switch self { case .cannotCreateState(let m): "cannot create Lua state: \(m)" }
        }
    }

    let L: OpaquePointer
    let trapSentinel: UnsafeMutableRawPointer?
    private lazy var taskBody = LuaTaskBody(runtime: self)
    lazy var diagnostics = LuaDiagnostics(runtime: self)
    private let host: UnsafeMutablePointer<curio_host>
    // Exclusivity: a runtime is used by one thread, and no access to these spans a
    // call into Lua, so the ones every kernel call reads skip the dynamic check
    // (benchmarks/README.md, "Fast without our build flags").
    /// The kernel of the current `curio.run`, if any (a fresh one per run).
    @exclusivity(unchecked) public private(set) var kernel: Kernel?
    private var running = false
    /// The virtual clock setting for this runtime's kernels (curio.test, --virtual-clock).
    private var virtualClock = false
    /// The task SIGINT cancels instead of the main task (0: the main task, and a
    /// second Ctrl-C exits). Set by the REPL.
    private var interruptTarget = 0
    var isRunning: Bool { running }
    /// Signals watched by `curio.signal` during the current run.
    let signals = SignalWatches()
    private var mainTask: TaskRecord?
    @exclusivity(unchecked) private var waitQueues: [WaitQueue?] = []
    @exclusivity(unchecked) private var freeQueueIds: [Int] = []
    /// Whether SIGINT cancels the main task (the CLI sets this).
    @exclusivity(unchecked) public var handlesInterrupt = false
    /// The embedding host (Embedding/), if this runtime belongs to a `LuaHost`.
    weak var embedding: EmbedCore?
    /// Set by the embedding host while it spawns a call task outside any task.
    var allowsSpawnOutsideTasks = false
    private(set) var interrupts = 0

    public init(ignoreEnvironment: Bool = false) throws {
        host = .allocate(capacity: 1)
        host.initialize(to: curio_host())
        trapSentinel = cl_trap_sentinel()
        guard let L = cl_newstate(host, ignoreEnvironment ? 1 : 0) else {
            let msg = withUnsafeBytes(of: &host.pointee.errbuf) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            host.deallocate()
            throw Error.cannotCreateState(msg)
        }
        self.L = L
        host.pointee.ctx = Unmanaged.passUnretained(self).toOpaque()
        host.pointee.kcall = { ctx, L, op, nargs in
            Unmanaged<LuaRuntime>.fromOpaque(ctx!).takeUnretainedValue().kcall(L!, op: Int(op), nargs: nargs)
        }
        host.pointee.spawn = { ctx, ref, daemon, main, parent in
            Unmanaged<LuaRuntime>.fromOpaque(ctx!).takeUnretainedValue()
                .spawn(ref: ref, daemon: daemon != 0, main: main != 0, parent: parent!)
        }
        _ = cl_gcpace_install(L, LuaRuntime.garbageFloor) // out of memory: Lua's own pace
    }

    deinit {
        cl_close(L)
        host.deallocate()
    }

    /// Runs `require(module)[function](args...)` and returns its integer result
    /// (0 if it returns something else), or nil and the error message.
    /// Runs `body` with the Lua state, so a host can add C modules (package.preload)
    /// through its own protected calls before running scripts.
    public func withLuaState<T>(_ body: (OpaquePointer) -> T) -> T { body(L) }

    public func callModule(_ module: String, _ function: String, _ args: [String]) -> (Int32?, String?) {
        let (ok, text, status) = call(module, function, args)
        return ok ? (status, nil) : (nil, text)
    }

    /// Bytes the Lua state holds now.
    public var memoryInUse: Int { Int(cl_allocator_bytes(cl_state_allocator(L))) }

    /// A cap on the bytes the Lua state may hold (nil: none). An allocation past it
    /// fails, and Lua raises "not enough memory" in the code that asked for it.
    public var memoryLimit: Int? {
        didSet {
            let limit = memoryLimit.map { max(0, $0) } ?? 0
            cl_allocator_set_limit(cl_state_allocator(L), limit)
            // The garbage floor is at most a quarter of the limit.
            _ = cl_gcpace_install(L, limit > 0 ? min(LuaRuntime.garbageFloor, limit / 4) : LuaRuntime.garbageFloor)
        }
    }

    /// The collector starts a cycle once garbage reaches the live data's size or
    /// this many bytes, whichever is more (Sources/CLuaShim/gcpace.c).
    static let garbageFloor = 8 << 20

    public struct ScriptError: Swift.Error, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    /// Runs Lua `source` as the main task of a fresh kernel (so it may block) and
    /// returns `tostring` of its first result. Errors carry the Lua message.
    @discardableResult
    public func run(_ source: String, name: String = "=swift") throws(ScriptError) -> String {
        try callText("curio.embed", "run_string", [source, name])
    }

    func callText(_ module: String, _ function: String, _ args: [String]) throws(ScriptError) -> String {
        let (ok, text, _) = call(module, function, args)
        if !ok { throw ScriptError(message: text) }
        return text
    }

    /// `require(module)[function](args...)` in protected mode: whether it succeeded,
    /// tostring of its first result (or of the error), and that result as an integer.
    private func call(_ module: String, _ function: String, _ args: [String]) -> (Bool, String, Int32) {
        var cargs = args.map { strdup($0) }
        defer { cargs.forEach { free($0) } }
        var out = [CChar](repeating: 0, count: 64 * 1024)
        var status: Int32 = 0
        let rc = cargs.withUnsafeMutableBufferPointer { b -> Int32 in
            b.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: b.count) { p in
                cl_call_module_text(L, module, function, Int32(b.count), p, &out, out.count, &status)
            }
        }
        return (rc == 0, String(cBuffer: out), status)
    }

    // MARK: the C host interface

    func fail(_ message: String) -> Int32 {
        withUnsafeMutableBytes(of: &host.pointee.errbuf) { buf in
            let bytes = Array(message.utf8.prefix(buf.count - 1))
            buf.copyBytes(from: bytes)
            buf[bytes.count] = 0
        }
        return -1
    }

    private func spawn(ref: Int32, daemon: Bool, main: Bool,
                       parent: UnsafeMutablePointer<Int64>) -> Int64 {
        if main {
            if running { return Int64(fail("curio: a kernel is already running")) }
            do { kernel = try Kernel() } catch { return Int64(fail("curio: cannot start kernel: \(error)")) }
            kernel?.virtualClock = virtualClock
            kernel?.tracer = diagnostics.tracer
        }
        guard let k = kernel, main || k.current != nil || allowsSpawnOutsideTasks else { return -2 }
        let parentId = k.current?.id ?? 0
        parent.pointee = Int64(parentId)
        return Int64(k.spawn(taskBody, parent: parentId, daemon: daemon, hostRef: ref).id)
    }

    /// A task failed, and recording its failure failed too (out of memory, say):
    /// its join will raise "task died without a result".
    func report(unrecorded message: String, task: TaskRecord) {
        csys_eprint("curio-lua: task \(task.id) failed and its error could not be recorded: \(message)\n")
    }

    func waitQueue(_ id: Int) -> WaitQueue? {
        id > 0 && id <= waitQueues.count ? waitQueues[id - 1] : nil
    }

    // MARK: blocking work on the kernel's thread pool

    private final class Job {
        var result: (any Sendable)?
        var done = false
        var cancelled = false
        var waiter: TaskRecord?
        /// Releases what a result holds (an fd) when nobody will take it.
        var discard: ((any Sendable) -> Void)?
        /// Runs when the waiting task is cancelled (to unblock the pool thread).
        var onCancel: (() -> Void)?
    }
    @exclusivity(unchecked) private var jobs: [Int: Job] = [:]
    /// Swift functions Lua calls on the thread pool (`registerBlocking`).
    var blockingFunctions: [String: BlockingFunction] = [:]
    private var nextJobId = 1

    /// Starts `work` on the kernel's thread pool and returns a job id. A task waits
    /// for it with the THREAD trap, then collects the result with `takeJobResult`.
    func submitJob(_ work: @escaping @Sendable () -> any Sendable,
                   discard: ((any Sendable) -> Void)? = nil, onCancel: (() -> Void)? = nil) -> Int? {
        guard let k = kernel else { return nil }
        let id = nextJobId
        nextJobId += 1
        let job = Job()
        job.discard = discard
        job.onCancel = onCancel
        jobs[id] = job
        k.runInThread(work) { [weak self] result in
            // A job whose waiter was cancelled: its late result is released, not kept.
            if job.cancelled { job.discard?(result); return }
            job.result = result
            job.done = true
            if let w = job.waiter {
                job.waiter = nil
                self?.kernel?.resumeExternal(w, .value(0))
            }
            _ = self
        }
        return id
    }

    /// A job completed by someone else than the pool (a waiter on a Universal
    /// object): its id, and the completion to call on the kernel thread.
    /// `onCancel` runs if the waiting task is cancelled first.
    func makeJob(onCancel: @escaping () -> Void) -> (Int, (any Sendable) -> Void) {
        let id = nextJobId
        nextJobId += 1
        let job = Job()
        job.onCancel = onCancel
        jobs[id] = job
        return (id, { [weak self, weak job] result in
            guard let job, !job.done else { return }
            job.result = result
            job.done = true
            job.onCancel = nil
            if let w = job.waiter {
                job.waiter = nil
                self?.kernel?.resumeExternal(w, .value(0))
            }
        })
    }

    /// The result of a finished job (removing it), or nil if it is unknown or still
    /// running.
    func takeJobResult(_ id: Int) -> (any Sendable)? {
        guard let job = jobs[id], job.done else { return nil }
        jobs[id] = nil
        return job.result
    }

    func threadTrap(_ task: TaskRecord, job id: Int) -> Trap {
        guard let job = jobs[id], !job.done else { return .sleep(until: 0) }
        job.waiter = task
        // Cancelled while waiting: the thread finishes on its own; its result is dropped.
        return .external(.threadWait, cancel: { [weak self] _ in
            job.waiter = nil
            job.cancelled = true
            self?.jobs[id] = nil
            job.onCancel?()
        })
    }

    private func num(_ L: OpaquePointer, _ i: Int32) -> Double { lua_tonumberx(L, i, nil) }
    private func int(_ L: OpaquePointer, _ i: Int32) -> Int { Int(lua_tointegerx(L, i, nil)) } // 0 unless an integer
    private func isNil(_ L: OpaquePointer, _ i: Int32) -> Bool { lua_type(L, i) <= 0 }

    private func pushOptional(_ L: OpaquePointer, _ d: Double?) {
        if let d { lua_pushnumber(L, d) } else { lua_pushnil(L) }
    }

    /// Kernel calls from Lua. Arguments start at index 2. Only non-raising API calls.
    private func kcall(_ L: OpaquePointer, op: Int, nargs: Int32) -> Int32 {
        guard curio_kcall_known(Int64(op)) != 0, let call = CurioKCall(rawValue: Int32(op)) else {
            return fail("curio: unknown kernel call \(op)")
        }
        switch call {
        case .running:
            lua_pushboolean(L, running ? 1 : 0)
            return 1
        case .clock:
            lua_pushnumber(L, kernel?.clock() ?? csys_monotonic())
            return 1
        case .interruptTarget:
            lua_pushinteger(L, lua_Integer(interruptTarget))
            interruptTarget = int(L, 2)
            // Each REPL line starts afresh: two Ctrl-C within one line exit.
            if handlesInterrupt && running && (signals.watchers[SIGINT] ?? 0) == 0 { armInterruptExit() }
            return 1
        case .virtualClock:
            // Applies to the running kernel and to the next ones; returns the old setting.
            lua_pushboolean(L, virtualClock ? 1 : 0)
            virtualClock = lua_toboolean(L, 2) != 0
            kernel?.virtualClock = virtualClock
            return 1
        case .interrupted:
            lua_pushinteger(L, lua_Integer(interrupts))
            return 1
        case .wqNew:
            let q = WaitQueue(policy: int(L, 2) == 1 ? .barrier : .fifo)
            let id: Int
            if let free = freeQueueIds.popLast() { waitQueues[free - 1] = q; id = free } else { waitQueues.append(q); id = waitQueues.count }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        case .wqFree:
            let id = int(L, 2)
            if let q = waitQueue(id), q.isEmpty { waitQueues[id - 1] = nil; freeQueueIds.append(id) }
            return 0
        case .wqLen:
            lua_pushinteger(L, lua_Integer(waitQueue(int(L, 2))?.count ?? 0))
            return 1
        case .taskIds, .taskGet, .debugLog, .debugSet:
            return diagnosticsCall(L, call)
        default:
            break
        }
        guard let k = kernel else {
            if call == .current { lua_pushnil(L); return 1 }
            return fail("curio: no kernel is running")
        }
        switch call {
        case .current:
            // The task's Lua object, from the registry (lua_rawgeti never raises).
            if let t = k.current { lua_rawgeti(L, Int32(CL_REGISTRYINDEX), lua_Integer(t.hostRef)) } else { lua_pushnil(L) }
            return 1
        case .cancel:
            guard let t = k.tasks[int(L, 2)] else { lua_pushboolean(L, 0); return 1 }
            let code = int(L, 3)
            lua_pushboolean(L, k.cancel(t, code == 0 ? .cancelled : .custom(code)) ? 1 : 0)
            return 1
        case .taskInfo:
            guard let t = k.tasks[int(L, 2)] else { return 0 }
            lua_pushinteger(L, lua_Integer(t.state.rawValue))
            lua_pushinteger(L, lua_Integer(t.cycles))
            pushOptional(L, t.timeout)
            return 3
        case .timeoutEnter:
            guard let t = k.current else { return fail("curio: timeout outside a task") }
            k.enterDeadline(t, num(L, 2))
            return 0
        case .timeoutLeave:
            guard let t = k.current else { return fail("curio: timeout outside a task") }
            let clock: Double? = isNil(L, 2) ? nil : num(L, 2)
            lua_pushinteger(L, lua_Integer(k.leaveDeadline(t, timeoutClock: clock).rawValue))
            return 1
        case .cancelDisable:
            guard let t = k.current else { return 0 }
            k.adjustCancelDisabled(t, by: int(L, 2))
            return 0
        case .cancelPending:
            guard let t = k.current, let c = t.cancelPending else { lua_pushinteger(L, 0); return 1 }
            if lua_toboolean(L, 2) != 0 { _ = k.takePendingCancellation(t) }
            switch c {
            case .cancelled: lua_pushinteger(L, 1); lua_pushnumber(L, 0)
            case .timeout(let clock): lua_pushinteger(L, 2); lua_pushnumber(L, clock)
            case .custom(let code): lua_pushinteger(L, 3); lua_pushinteger(L, lua_Integer(code))
            }
            return 2
        case .wqWake:
            guard let q = waitQueue(int(L, 2)) else { lua_pushinteger(L, 0); return 1 }
            let n = isNil(L, 3) ? 1 : int(L, 3)
            let (woken, first) = k.wake(q, count: n, value: isNil(L, 4) ? 0 : num(L, 4))
            lua_pushinteger(L, lua_Integer(woken))
            if let first { lua_rawgeti(L, Int32(CL_REGISTRYINDEX), lua_Integer(first.hostRef)) } else { lua_pushnil(L) }
            return 2
        case .run:
            guard !running else { return fail("curio: the kernel is already running") }
            guard let main = k.tasks[int(L, 2)] else { return fail("curio: no main task") }
            running = true
            mainTask = main
            interrupts = 0
            interruptTarget = 0
            k.onSignal = { [unowned self] sig, n in self.signalArrived(sig, n) }
            if handlesInterrupt {
                try? k.watchSignal(SIGINT)
                armInterruptExit()
            }
            k.runUntilComplete(main)
            endSignalWatches(k)
            if handlesInterrupt {
                csys_signal_exit_after(SIGINT, 0, 0)
                k.unwatchSignal(SIGINT)
            }
            running = false
            mainTask = nil
            kernel = nil
            return 0
        case .fdForget:
            if let fd = Int32(exactly: int(L, 2)) { k.forgetFd(fd, resumeWith: -Double(EBADF)) }
            return 0
        case .readLine:
            // Reads one line of standard input on the thread pool (the REPL uses it
            // so that other tasks keep running while the prompt waits).
            guard let id = submitJob({ () -> any Sendable in readLine(strippingNewline: true) as String? }) else {
                return fail("curio: no kernel is running")
            }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        case .jobString:
            guard let s = takeJobResult(int(L, 2)) as? String? , let s else { lua_pushnil(L); return 1 }
            return pushString(L, s)
        case .resolve, .jobResult, .fileOpen, .fileRead, .fileWrite, .fileClose:
            return extensionCall(L, call, nargs: nargs)
        case .embedServe:
            return embedding?.kcall(L, call) ?? fail("curio: not an embedding host")
        case .threadSubmit, .threadResult, .universalWait, .hostCall:
            return workerCall(L, call, nargs: nargs)
        case .sigWatch, .sigUnwatch, .sigTotal, .sigEpoch:
            return signalCall(L, call)
        case .running, .clock, .interrupted, .wqNew, .wqFree, .wqLen,
             .taskIds, .taskGet, .debugLog, .debugSet, .virtualClock, .interruptTarget:
            return 0 // answered above
        }
    }

    /// Pushes a Swift string (protected: allocation may fail). Returns 1, or -1.
    func pushString(_ L: OpaquePointer, _ s: String) -> Int32 {
        var s = s
        let rc = s.withUTF8 { b in
            b.withMemoryRebound(to: CChar.self) { c in cl_pushlstring(L, c.baseAddress, c.count) }
        }
        return rc == 0 ? 1 : fail("not enough memory")
    }

    /// A second SIGINT (the first cancels the main task) exits with status 130 from
    /// the signal handler itself, even while a task computes without blocking.
    func armInterruptExit() {
        csys_signal_exit_after(SIGINT, 2, 130)
    }

    func interrupted(_ n: Int) {
        // The REPL names the task Ctrl-C cancels (the running line, or the prompt).
        if interruptTarget != 0, let k = kernel, let t = k.tasks[interruptTarget] {
            k.cancel(t)
            return
        }
        interrupts += n
        if interrupts > 1 { _exit(130) }
        if let k = kernel, let main = mainTask { k.cancel(main) }
    }
}

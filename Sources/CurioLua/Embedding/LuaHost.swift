import CLuaShim
import CurioKernel
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A Lua runtime for a Swift host: one Lua state with the curio library, its
/// kernel, the Swift functions it may call, and its limits.
///
/// Every method may be called from any thread or task. The kernel runs either on
/// a thread the host owns (``start()``: the host goes on serving while scripts
/// run), or on the caller's thread (``run(_:name:)``: run to completion). Several
/// hosts may live in one process, each on its own thread. ``shutdown()`` cancels
/// the runtime's tasks and waits for them.
///
/// ```swift
/// let lua = try LuaHost(configuration: .init(instructionBudget: 10_000_000))
/// try lua.register(module: "host", [
///     .sync("add") { args in .integer(try args.int(1) + args.int(2)) },
/// ])
/// try lua.start()
/// _ = try await lua.load("function greet(n) return 'hi ' .. n end")
/// let r = try await lua.call("greet", "plugin")   // ["hi plugin"]
/// await lua.shutdown()
/// ```
public final class LuaHost: Sendable {
    /// The configuration the host was made with.
    public let configuration: Configuration
    /// The configuration's logger.
    public var logger: Logger { configuration.logger }

    /// Work for the kernel thread; `drop` runs instead if the host closes first.
    struct Work: Sendable {
        let run: @Sendable (EmbedCore) -> Void
        let drop: @Sendable () -> Void
    }

    private enum Phase { case idle, running, closing, closed }
    private struct Shared {
        var phase = Phase.idle
        var inbox: KernelInbox?
        var queue: [Work] = []
        var unrefs: [Int32] = []
        var finished = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }
    private let shared = Locked(Shared())
    private let nextCallId = Atomic<Int>(1)
    /// Calls from Swift awaiting their result (a lone caller spins briefly).
    private let callsInFlight = Atomic<Int>(0)
    /// The configuration's wake-up spin, in seconds.
    let spin: Double
    /// Whether a lone caller spins (see SpinGovernor).
    private let callerSpin = Locked(SpinGovernor())
    /// The serving kernel's inbox (set once the kernel serves).
    private var kernelInbox: KernelInbox? { shared.withLock { $0.inbox } }
    // Made right after self (it refers back); used only on the kernel thread, or
    // under `shared`'s lock before the kernel starts.
    nonisolated(unsafe) private var core: EmbedCore!

    /// Creates the runtime (its Lua state, libraries and limits). Nothing runs until
    /// ``start()`` or ``run(_:name:)``.
    public init(configuration: Configuration = .init()) throws(LuaHostError) {
        self.configuration = configuration
        spin = max(0, configuration.wakeupSpin.seconds)
        core = try EmbedCore(host: self, configuration: configuration)
    }

    // MARK: setting up

    /// Registers Swift functions as the Lua module `module` (`require(module)`,
    /// also a global of that name for scripts). Call it before ``start()``.
    public func register(module: String, _ functions: [LuaHostFunction]) throws(LuaHostError) {
        try shared.withLock { s throws(LuaHostError) in
            guard s.phase == .idle else { throw .alreadyStarted }
            try core.register(module: module, functions)
        }
    }

    /// Registers a plain C `lua_CFunction` as `module.name` (it runs on the kernel
    /// thread with Lua's own rules: it may raise). Call it before ``start()``.
    public func register(module: String, cFunction name: String,
                         _ function: @escaping @convention(c) (OpaquePointer?) -> Int32) throws(LuaHostError) {
        try shared.withLock { s throws(LuaHostError) in
            guard s.phase == .idle else { throw .alreadyStarted }
            guard cl_embed_register_c(core.L, module, name, function) == 0 else { throw .outOfMemory("register") }
            try core.publish(module)
        }
    }

    /// Shares a `UniversalQueue` with the scripts as the global `name` (the same
    /// object: Swift threads put and get with its blocking methods while Lua tasks
    /// wait on it without blocking the kernel). Call it before ``start()``.
    public func share(_ queue: UniversalQueue, as name: String) throws(LuaHostError) {
        try shared.withLock { s throws(LuaHostError) in
            guard s.phase == .idle else { throw .alreadyStarted }
            do { try core.runtime.setGlobal(name, queue) } catch { throw .outOfMemory("share \(name)") }
            try core.publishGlobal(name)
        }
    }

    /// Shares a `UniversalEvent` with the scripts as the global `name`. Call it
    /// before ``start()``.
    public func share(_ event: UniversalEvent, as name: String) throws(LuaHostError) {
        try shared.withLock { s throws(LuaHostError) in
            guard s.phase == .idle else { throw .alreadyStarted }
            do { try core.runtime.setGlobal(name, event) } catch { throw .outOfMemory("share \(name)") }
            try core.publishGlobal(name)
        }
    }

    /// Starts the runtime's kernel on a thread of its own.
    public func start() throws(LuaHostError) {
        try begin()
        startThread(name: configuration.name, stackSize: 16 << 20) { [self] in serveHere() }
    }

    /// Runs `source` as the main task on the calling thread, serving calls from
    /// other threads meanwhile, and returns its results when it ends (the other
    /// tasks are then cancelled). The host is closed afterwards.
    public func run(_ source: String, name: String = "=main") throws -> [LuaValue] {
        try begin()
        let box = Locked<Result<[LuaValue], any Error>>(.failure(LuaHostError.closed))
        let id = nextCallId.wrappingAdd(1, ordering: .relaxed).oldValue
        let budget = configuration.instructionBudget, timeout = configuration.callTimeout?.seconds
        enqueue(Work(run: { core in
            core.startCall(id: id, target: .chunk(source, name: name), args: [], budget: budget, timeout: timeout) { r in
                box.withLock { $0 = r }
                core.stopServing()
            }
        }, drop: {}))
        serveHere()
        return try box.withLock { $0 }.get()
    }

    private func begin() throws(LuaHostError) {
        try shared.withLock { s throws(LuaHostError) in
            switch s.phase {
            case .idle: s.phase = .running
            case .running: throw .alreadyStarted
            case .closing, .closed: throw .closed
            }
        }
    }

    /// The kernel's thread: serves until the main task is cancelled, then fails
    /// whatever is left.
    private func serveHere() {
        let (_, err) = core.runtime.callModule("curio.embed", "serve", [])
        if let err, !err.contains("TaskCancelled") { logger.error("Lua runtime stopped: \(err)") }
        let (left, waiters) = shared.withLock { s in
            s.phase = .closed
            s.inbox = nil
            s.finished = true
            defer { s.queue = []; s.waiters = [] }
            return (s.queue, s.waiters)
        }
        for w in left { w.drop() }
        core.failPending()
        logger.debug("Lua runtime closed", metadata: ["lua.runtime": "\(configuration.name)"])
        for w in waiters { w.resume() }
    }

    /// Cancels every task of the runtime, waits for them to end, and closes the
    /// host. Calls in flight fail; later calls throw ``LuaHostError/closed``.
    public func shutdown() async {
        let (running, dropped) = shared.withLock { s -> (Bool, [Work]) in
            switch s.phase {
            case .idle:
                // Never started: calls queued meanwhile fail.
                s.phase = .closed
                s.finished = true
                defer { s.queue = [] }
                return (false, s.queue)
            case .closed: return (false, [])
            case .running, .closing: return (true, [])
            }
        }
        for w in dropped { w.drop() }
        guard running else { return }
        enqueue(Work(run: { $0.stopServing() }, drop: {}))
        shared.withLock { if $0.phase == .running { $0.phase = .closing } }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s -> Bool in
                if s.finished { return true }
                s.waiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    // MARK: loading and calling

    /// Runs a chunk of Lua source as a new task (in the scripts' environment) and
    /// returns its results. A syntax error throws a ``LuaError``.
    @discardableResult
    public func load(_ source: String, name: String = "=chunk", options: LuaCallOptions = .init()) async throws -> [LuaValue] {
        try await call(target: .chunk(source, name: name), args: [], options: options)
    }

    /// Runs a script file as a new task and returns its results.
    @discardableResult
    public func loadFile(_ path: String, options: LuaCallOptions = .init()) async throws -> [LuaValue] {
        try await call(target: .file(path), args: [], options: options)
    }

    /// `require(module)` in the scripts' environment (script modules are found on
    /// the configuration's `packagePath`).
    public func require(_ module: String) async throws -> LuaValue {
        try await call(target: .require(module), args: [], options: .init()).first ?? .nil
    }

    /// Calls the function at `path` (`"name"`, `"module.function"`, `"a.b.c"`; a
    /// first part that is no global is `require`d) as a new Lua task with `args`,
    /// and returns its results. Cancelling the calling Swift task cancels the Lua
    /// task (and throws `CancellationError`); a Lua error, or a limit hit, throws
    /// ``LuaError``.
    public func call(_ path: String, _ args: [LuaValue], options: LuaCallOptions = .init()) async throws -> [LuaValue] {
        try await call(target: .path(path), args: args, options: options)
    }

    /// Variadic form of ``call(_:_:options:)``.
    public func call(_ path: String, _ args: LuaValue...) async throws -> [LuaValue] {
        try await call(target: .path(path), args: args, options: .init())
    }

    /// Bytes the Lua state holds now.
    public func memoryInUse() async throws -> Int {
        try await perform { core in core.runtime.memoryInUse }
    }

    /// Runs `body` on the kernel thread, with the runtime's garbage collected first
    /// if `collect` (for tests and diagnostics).
    func perform<T: Sendable>(collect: Bool = false, _ body: @escaping @Sendable (EmbedCore) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<T, any Error>) in
            do {
                try post(Work(run: { core in
                    if collect { _ = core.runtime.callModule("curio.embed", "collect", []) }
                    c.resume(returning: body(core))
                }, drop: { c.resume(throwing: LuaHostError.closed) }))
            } catch { c.resume(throwing: error) }
        }
    }

    /// Collects the Lua state's garbage and returns the bytes it then holds.
    public func collectGarbage() async throws -> Int {
        try await perform(collect: true) { core in core.runtime.memoryInUse }
    }

    func call(target: EmbedCore.Target, args: [LuaValue], options: LuaCallOptions) async throws -> [LuaValue] {
        let id = nextCallId.wrappingAdd(1, ordering: .relaxed).oldValue
        let budget = options.instructionBudget ?? configuration.instructionBudget
        let timeout = (options.timeout ?? configuration.callTimeout)?.seconds
        let slot = CallSlot()
        try post(Work(run: { core in
            core.startCall(id: id, target: target, args: args, budget: budget, timeout: timeout, finish: slot.complete)
        }, drop: { slot.complete(.failure(LuaHostError.closed)) }))
        // The only call in flight (a caller awaiting each result in turn): spin
        // briefly for the result before suspending, so a quick call costs no
        // wake-up of a Swift thread. Concurrent callers never spin: they would
        // hold threads of the cooperative pool that other callers need.
        let alone = callsInFlight.wrappingAdd(1, ordering: .relaxed).newValue == 1
        defer { callsInFlight.wrappingSubtract(1, ordering: .relaxed) }
        if alone, !Task.isCancelled, let inbox = kernelInbox, inbox.kernelRunsElsewhere,
           callerSpin.withLock({ $0.allows() }) {
            let answered = slot.spin(spin, while: { inbox.kernelRunsElsewhere })
            callerSpin.withLock { $0.record(answered: answered) }
            if answered { return try await slot.wait().get() }
        }
        return try await withTaskCancellationHandler {
            try await slot.wait().get()
        } onCancel: {
            try? post(Work(run: { $0.cancelCall(id: id) }, drop: {}))
        }
    }

    // MARK: the door to the kernel thread

    /// Queues `work` for the kernel thread (run once it serves).
    func post(_ work: Work) throws(LuaHostError) {
        let inbox = try shared.withLock { s throws(LuaHostError) -> KernelInbox? in
            guard s.phase == .idle || s.phase == .running else { throw .closed }
            s.queue.append(work)
            return s.queue.count == 1 ? s.inbox : nil
        }
        inbox?.post(token: 0, ())
    }

    func post(_ run: @escaping @Sendable (EmbedCore) -> Void) throws(LuaHostError) {
        try post(Work(run: run, drop: {}))
    }

    /// Queues work even while closing (the stop request itself).
    private func enqueue(_ work: Work) {
        let inbox = shared.withLock { s -> KernelInbox? in
            s.queue.append(work)
            return s.queue.count == 1 ? s.inbox : nil
        }
        inbox?.post(token: 0, ())
    }

    /// The kernel serves from now on: later posts wake it through `inbox`.
    func startServing(inbox: KernelInbox) -> [Work] {
        shared.withLock { s in
            s.inbox = inbox
            defer { s.queue = [] }
            return s.queue
        }
    }

    /// The work queued for the kernel thread (called there when woken).
    func takeWork() -> [Work] {
        shared.withLock { s in
            defer { s.queue = [] }
            return s.queue
        }
    }

    /// A LuaReference was dropped: its registry slot is freed on the kernel thread.
    func release(_ ref: Int32) {
        let post = shared.withLock { s -> Bool in
            guard s.phase == .running || s.phase == .idle else { return false }
            s.unrefs.append(ref)
            return s.unrefs.count == 1
        }
        guard post else { return }
        enqueue(Work(run: { [self] core in
            core.unref(shared.withLock { s in defer { s.unrefs = [] }; return s.unrefs })
        }, drop: {}))
    }
}

import CLua54
import CLuaShim
import CSys
import CurioKernel
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The kernel-thread half of a ``LuaHost``: the Lua runtime, the registered Swift
/// functions, the calls from Swift in flight and the suspended Swift functions.
/// Used only by the thread that runs the runtime's kernel (or, before it starts,
/// under the host's lock).
final class EmbedCore: @unchecked Sendable {
    let runtime: LuaRuntime
    let L: OpaquePointer
    unowned(unsafe) let host: LuaHost
    let e: UnsafeMutablePointer<cl_embed_host>
    let logger: Logger
    private let slice: Int
    private let name: String

    final class Function {
        let qualifiedName: String
        let body: LuaHostFunction.Body
        /// The synchronous one-result body, kept apart for the fast path.
        let sync: ((LuaArguments) throws -> LuaValue)?
        init(_ name: String, _ body: LuaHostFunction.Body) {
            qualifiedName = name
            self.body = body
            if case .sync(let f) = body { sync = f } else { sync = nil }
        }
    }
    private var functions: [Function] = []

    /// A call from Swift: its task, limits, and the continuation to resume.
    final class Call {
        let id: Int
        var task: TaskRecord?
        let finish: (Result<[LuaValue], any Error>) -> Void
        var budget: Int?           // instructions left
        let deadline: Double?      // kernel clock
        var cancelled = false      // by Swift: sticky
        var stop: (status: Int32, value: Double, budget: Bool)? // a limit hit: raised at every instruction
        init(id: Int, budget: Int?, deadline: Double?, finish: @escaping (Result<[LuaValue], any Error>) -> Void) {
            self.id = id; self.budget = budget; self.deadline = deadline; self.finish = finish
        }
    }
    private var calls: [Int: Call] = [:]
    private var callByTask: [Int: Call] = [:]
    private var cancelledEarly: Set<Int> = []

    /// A suspended async or blocking Swift function.
    final class Job {
        var result: Result<[LuaValue], any Error>?
        var waiter: TaskRecord?
        var task: Task<Void, Never>?
        let function: Function
        init(_ f: Function) { function = f }
    }
    private var jobs: [Int: Job] = [:]
    private var nextJob = 1

    private(set) var mainTask: TaskRecord?
    var kernel: Kernel? { runtime.kernel }

    init(host: LuaHost, configuration c: LuaHost.Configuration) throws(LuaHostError) {
        self.host = host
        name = c.name
        var logger = c.logger
        logger[metadataKey: "lua.runtime"] = "\(c.name)"
        self.logger = logger
        slice = max(0, c.preemptionInterval)
        do { runtime = try LuaRuntime(ignoreEnvironment: false) } catch { throw .cannotCreate("\(error)") }
        L = runtime.L
        e = .allocate(capacity: 1)
        e.initialize(to: cl_embed_host())
        e.pointee.ctx = Unmanaged.passUnretained(self).toOpaque()
        e.pointee.call = { ctx, L, fn, nargs, aux in
            // Guaranteed references: no retain/release on the hot path.
            Unmanaged<EmbedCore>.fromOpaque(ctx!)._withUnsafeGuaranteedRef { core in
                Unmanaged<Function>.fromOpaque(fn!)._withUnsafeGuaranteedRef { f in
                    core.callSwift(L!, f, nargs, aux!)
                }
            }
        }
        e.pointee.finish = { ctx, L, job, aux in
            Unmanaged<EmbedCore>.fromOpaque(ctx!).takeUnretainedValue().finishJob(L!, Int(job), aux!)
        }
        e.pointee.hook = { ctx, L, status, value in
            Unmanaged<EmbedCore>.fromOpaque(ctx!).takeUnretainedValue().hook(L!, status!, value!)
        }
        e.pointee.done = { ctx, L, call, ok, first in
            Unmanaged<EmbedCore>.fromOpaque(ctx!).takeUnretainedValue().callDone(L!, Int(call), ok != 0, first)
        }
        runtime.embedding = self
        cl_embed_attach(L, e)
        if let limit = c.memoryLimit { runtime.memoryLimit = limit }
        // Diagnostics (crash reports of tasks nobody joins, CURIO_DEBUG output) go
        // to the logger, a line per message.
        runtime.diagnosticLog = { [logger] line in logger.error("\(line)") }
        // embed.configure(libraries, package.path)
        var enc = ValueEncoder(host: host)
        try? enc.add(.string(LuaString(c.libraries.names.joined(separator: ","))))
        try? enc.add(c.libraries == .all ? .boolean(true) : .boolean(false))
        try? enc.add(c.packagePath.map { .string(LuaString($0)) } ?? .nil)
        try pcall("configure", enc)
        if slice > 0 { cl_embed_sethook(L, Int32(clamping: slice)) }
    }

    deinit {
        cl_embed_attach(L, nil)
        e.deallocate()
    }

    /// `require("curio.embed")[fn](values)` in protected mode, outside any task.
    func pcall(_ fn: String, _ enc: ValueEncoder) throws(LuaHostError) {
        var err = [CChar](repeating: 0, count: 1024)
        let rc = enc.bytes.withUnsafeBufferPointer { b in
            cl_embed_pcall(L, "curio.embed", fn, b.baseAddress, b.count, enc.count, &err, err.count)
        }
        if rc != 0 { throw .cannotCreate(String(cBuffer: err)) }
    }

    // MARK: registering Swift functions

    func register(module: String, _ fns: [LuaHostFunction]) throws(LuaHostError) {
        try registerFunctions(module: module, fns)
        try publish(module)
    }

    /// Registers without making the module visible to scripts.
    private func registerFunctions(module: String, _ fns: [LuaHostFunction]) throws(LuaHostError) {
        let names = fns.map { strdup($0.name) }
        defer { names.forEach { free($0) } }
        var ptrs: [UnsafeMutableRawPointer?] = []
        var kinds: [Int32] = []
        for f in fns {
            let fn = Function("\(module).\(f.name)", f.body)
            functions.append(fn) // keeps it alive for the state's lifetime
            ptrs.append(Unmanaged.passUnretained(fn).toOpaque())
            switch f.body {
            case .sync, .syncMany: kinds.append(0)
            case .async, .blocking: kinds.append(1)
            }
        }
        let rc = names.withUnsafeBufferPointer { n in
            n.baseAddress!.withMemoryRebound(to: UnsafePointer<CChar>?.self, capacity: n.count) { np in
                cl_embed_register(L, module, Int32(fns.count), np, ptrs, kinds)
            }
        }
        if rc != 0 { throw .outOfMemory(String(cBuffer: withUnsafeBytes(of: e.pointee.errbuf) { Array($0.bindMemory(to: CChar.self)) })) }
    }

    /// Makes the state's global `name` a global of the scripts' environment too.
    func publishGlobal(_ name: String) throws(LuaHostError) {
        var enc = ValueEncoder(host: host)
        try enc.add(.string(LuaString(name)))
        try pcall("publish_global", enc)
    }

    /// Makes module `name` visible to scripts (embed.publish).
    func publish(_ module: String) throws(LuaHostError) {
        var enc = ValueEncoder(host: host)
        try enc.add(.string(LuaString(module)))
        try pcall("publish", enc)
    }

    private func fail(_ message: String) -> Int32 {
        withUnsafeMutableBytes(of: &e.pointee.errbuf) { buf in
            let bytes = Array(message.utf8.prefix(buf.count - 1))
            buf.copyBytes(from: bytes)
            buf[bytes.count] = 0
        }
        return Int32(CL_EMBED_ERROR)
    }

    private func failure(_ error: any Error, _ aux: UnsafeMutablePointer<Int64>) -> Int32 {
        if let a = error as? LuaArgumentError {
            aux.pointee = Int64(a.index)
            _ = fail(a.message)
            return Int32(CL_EMBED_ARGERROR)
        }
        return fail("\(error)")
    }

    // MARK: Swift functions called from Lua (C -> here; never raises)

    @inline(__always)
    private func callSwift(_ L: OpaquePointer, _ f: Function, _ nargs: Int32, _ aux: UnsafeMutablePointer<Int64>) -> Int32 {
        if let body = f.sync {
            let v: LuaValue
            do { v = try body(LuaArguments(stack: L, count: nargs, core: self)) } catch { return failure(error, aux) }
            // The C function returns the value on top: the arguments may stay below.
            switch v {
            case .integer(let i): lua_pushinteger(L, lua_Integer(i))
            case .number(let d): lua_pushnumber(L, d)
            case .nil: lua_pushnil(L)
            case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
            default:
                guard lua_checkstack(L, 2) != 0, push(L, v) else {
                    return fail("cannot return the result of '\(f.qualifiedName)': out of memory or a foreign reference")
                }
            }
            return 1
        }
        return callSwiftSlow(L, f, nargs, aux)
    }

    private func callSwiftSlow(_ L: OpaquePointer, _ f: Function, _ nargs: Int32, _ aux: UnsafeMutablePointer<Int64>) -> Int32 {
        switch f.body {
        case .sync:
            return 0 // handled by callSwift
        case .syncMany(let body):
            let v: [LuaValue]
            do { v = try body(LuaArguments(stack: L, count: nargs, core: self)) } catch { return failure(error, aux) }
            lua_settop(L, 0)
            return pushAll(L, v) ?? fail("cannot return the results of '\(f.qualifiedName)'")
        case .async(let body):
            guard let k = kernel else { return fail("no kernel is running") }
            let args = LuaArguments(readAll(L, from: 1, to: nargs))
            let (jobId, job) = newJob(f)
            let host = self.host
            _ = k
            let exec = asyncExecutor
            exec.taskStarting()
            job.task = Task(executorPreference: exec) {
                defer { exec.taskEnded() }
                let r: Result<[LuaValue], any Error>
                do { r = .success(try await body(args)) } catch { r = .failure(error) }
                try? host.post { core in core.complete(job: jobId, r) }
            }
            aux.pointee = Int64(jobId)
            return Int32(CL_EMBED_SUSPEND)
        case .blocking(let body):
            guard let k = kernel else { return fail("no kernel is running") }
            let args = LuaArguments(readAll(L, from: 1, to: nargs))
            let (jobId, _) = newJob(f)
            k.runInThread({ () -> any Sendable in
                do { return Result<[LuaValue], any Error>.success(try body(args)) } catch { return Result<[LuaValue], any Error>.failure(error) }
            }, completion: { [unowned self] r in
                self.complete(job: jobId, r as! Result<[LuaValue], any Error>)
            })
            aux.pointee = Int64(jobId)
            return Int32(CL_EMBED_SUSPEND)
        }
    }

    /// Where async Swift functions run (made at the first call of one).
    private var executor: HostExecutor?
    private var asyncExecutor: HostExecutor {
        if let x = executor { return x }
        let inbox = kernel?.inbox
        let x = HostExecutor(name: name, spin: host.spin) { inbox?.kernelRunsElsewhere ?? false }
        executor = x
        return x
    }

    private func newJob(_ f: Function) -> (Int, Job) {
        let id = nextJob
        nextJob += 1
        let j = Job(f)
        jobs[id] = j
        return (id, j)
    }

    func complete(job id: Int, _ r: Result<[LuaValue], any Error>) {
        guard let job = jobs[id] else { return } // cancelled meanwhile: dropped
        job.result = r
        if let w = job.waiter {
            job.waiter = nil
            kernel?.resumeExternal(w, .value(0))
        }
    }

    /// The EMBED_WAIT trap of a task whose Swift function suspended.
    func waitTrap(_ task: TaskRecord, job id: Int) -> Trap {
        guard let job = jobs[id] else { return .resume(0) }
        if job.result != nil { return .resume(0) }
        job.waiter = task
        return .external(.threadWait, cancel: { [unowned self] _ in
            job.waiter = nil
            job.task?.cancel()
            self.jobs[id] = nil
        })
    }

    private func finishJob(_ L: OpaquePointer, _ id: Int, _ aux: UnsafeMutablePointer<Int64>) -> Int32 {
        guard let job = jobs.removeValue(forKey: id), let r = job.result else { return fail("Swift function result lost") }
        switch r {
        case .success(let v):
            return pushAll(L, v) ?? fail("cannot return the results of '\(job.function.qualifiedName)'")
        case .failure(let error):
            return failure(error, aux)
        }
    }

    // MARK: the count hook (limits, cancellation of running code, preemption)

    private func hook(_ L: OpaquePointer, _ status: UnsafeMutablePointer<Int32>, _ value: UnsafeMutablePointer<Double>) -> Int32 {
        // Only task coroutines: the main state runs the kernel's protected calls.
        guard L != self.L, let k = kernel, let t = k.current else { return Int32(CL_HOOK_CONTINUE) }
        if closing && t !== mainTask {
            cl_embed_sethookcount(L, 1)
            return raise((Int32(CurioStatus.cancelled.rawValue), 0, false), status, value)
        }
        if let c = callByTask[t.id] {
            if let s = c.stop {
                cl_embed_sethookcount(L, 1) // raise again at every instruction until the call is over
                return raise(s, status, value)
            }
            if var b = c.budget {
                b -= Int(cl_embed_hookcount(L))
                c.budget = b
                if b <= 0 {
                    c.stop = (0, 0, true)
                    logger.warning("Lua call stopped: instruction budget exceeded", metadata: ["lua.task": "\(t.id)"])
                    cl_embed_sethookcount(L, 1)
                    return raise(c.stop!, status, value)
                }
                if b < Int(cl_embed_hookcount(L)) { cl_embed_sethookcount(L, Int32(b)) }
            }
            if let d = c.deadline, k.clock() >= d {
                c.stop = (Int32(CurioStatus.timeout.rawValue), k.clock(), false)
                logger.warning("Lua call stopped: timeout", metadata: ["lua.task": "\(t.id)"])
                cl_embed_sethookcount(L, 1)
                return raise(c.stop!, status, value)
            }
        }
        if t.allowCancel, let why = k.takePendingCancellation(t) {
            switch why {
            case .cancelled: status.pointee = Int32(CurioStatus.cancelled.rawValue)
            case .timeout(let clock): status.pointee = Int32(CurioStatus.timeout.rawValue); value.pointee = clock
            case .custom(let code): status.pointee = Int32(CurioStatus.custom.rawValue); value.pointee = Double(code)
            }
            return Int32(CL_HOOK_CANCEL)
        }
        // Preempt only at task level: a yield inside a coroutine of the task's
        // own would reach that coroutine's resume instead of the kernel.
        if t.hostPointer == L { return Int32(CL_HOOK_YIELD) }
        return Int32(CL_HOOK_CONTINUE)
    }

    private func raise(_ s: (status: Int32, value: Double, budget: Bool), _ status: UnsafeMutablePointer<Int32>,
                       _ value: UnsafeMutablePointer<Double>) -> Int32 {
        if s.budget {
            _ = fail("instruction budget exceeded")
            return Int32(CL_HOOK_BUDGET)
        }
        status.pointee = s.status
        value.pointee = s.value
        return Int32(CL_HOOK_CANCEL)
    }

    // MARK: calls from Swift

    enum Target: Sendable {
        case path(String)
        case function(LuaFunction)
        case chunk(String, name: String)
        case file(String)
        case require(String)
    }

    /// Starts `target(args...)` as a new task (on the kernel thread).
    func startCall(id: Int, target: Target, args: [LuaValue], budget: Int?, timeout: Double?,
                   finish: @escaping (Result<[LuaValue], any Error>) -> Void) {
        guard let k = kernel else { finish(.failure(LuaHostError.closed)); return }
        if cancelledEarly.remove(id) != nil { finish(.failure(CancellationError())); return }
        let call = Call(id: id, budget: budget, deadline: timeout.map { k.clock() + $0 }, finish: finish)
        let hookCount = budget.map { min($0, slice > 0 ? slice : $0) } ?? 0
        var enc = ValueEncoder(host: host)
        do {
            try enc.add(.integer(id))
            try enc.add(.integer(max(0, hookCount)))
            switch target {
            case .path(let p): try enc.add("path"); try enc.add(.string(LuaString(p))); try enc.add(.nil)
            case .function(let f): try enc.add("ref"); try enc.add(.function(f)); try enc.add(.nil)
            case .chunk(let s, let n): try enc.add("chunk"); try enc.add(.string(LuaString(s))); try enc.add(.string(LuaString(n)))
            case .file(let p): try enc.add("file"); try enc.add(.string(LuaString(p))); try enc.add(.nil)
            case .require(let m): try enc.add("require"); try enc.add(.string(LuaString(m))); try enc.add(.nil)
            }
            for a in args { try enc.add(a) }
        } catch {
            finish(.failure(error))
            return
        }
        calls[id] = call
        runtime.allowsSpawnOutsideTasks = true
        let tid = enc.bytes.withUnsafeBufferPointer { b in
            startErr.withUnsafeMutableBufferPointer { err in
                cl_embed_start(L, e, b.baseAddress, b.count, Int32(enc.count), err.baseAddress, err.count)
            }
        }
        runtime.allowsSpawnOutsideTasks = false
        // The task has not run yet: bind it to the call before it does.
        if tid > 0, let t = k.tasks[Int(tid)] {
            call.task = t
            callByTask[t.id] = call
            if let d = call.deadline { k.enterDeadline(t, d) }
        } else if calls.removeValue(forKey: id) != nil {
            let m = tid > 0 ? "the call's task is gone" : String(cBuffer: startErr)
            finish(.failure(LuaError(kind: nil, message: m, traceback: "", value: .string(LuaString(m)))))
        }
    }

    private var startErr = [CChar](repeating: 0, count: 1024) // reused by every startCall

    /// Kernel calls of curio.embed (450-499). Arguments from index 2; non-raising.
    func kcall(_ L: OpaquePointer, _ op: CurioKCall) -> Int32 {
        guard let k = kernel else { return runtime.fail("curio: no kernel is running") }
        switch op {
        case .embedServe:
            return serve(k)
        default:
            return runtime.fail("curio: unknown kernel call")
        }
    }

    func cancelCall(id: Int) {
        guard let c = calls[id] else { cancelledEarly.insert(id); return }
        c.cancelled = true
        if c.stop == nil { c.stop = (Int32(CurioStatus.cancelled.rawValue), 0, false) }
        if let t = c.task { kernel?.cancel(t) }
    }

    /// Outcomes of calls from Swift that ended this kernel cycle: handed over at
    /// its end, together (resuming a caller can wake a thread of the Swift pool;
    /// one wake-up then serves the whole batch).
    private var finished: [(Call, Result<[LuaValue], any Error>)] = []

    private func finishCalls() {
        guard !finished.isEmpty else { return }
        let batch = finished
        finished.removeAll(keepingCapacity: true)
        for (c, r) in batch { c.finish(r) }
    }

    /// A call task ended (from run_call, inside the task: read only).
    private func callDone(_ L: OpaquePointer, _ id: Int, _ ok: Bool, _ first: Int32) {
        guard let c = calls.removeValue(forKey: id) else { return }
        if let t = c.task { callByTask[t.id] = nil }
        let top = lua_gettop(L)
        if ok {
            finished.append((c, .success(readAll(L, from: first, to: top))))
            return
        }
        // The message handler packed {error, traceback, message, kind}; Lua calls
        // no handler for a memory error, which comes as it is.
        let raw = read(L, first)
        let packed: LuaValue = raw[3].stringValue != nil ? raw : [raw, "", .string(LuaString(raw.description))]
        let value = packed[1]
        let kind = packed[4].stringValue
        if c.cancelled && (kind == "TaskCancelled" || kind == nil) {
            finished.append((c, .failure(CancellationError())))
            return
        }
        let err = LuaError(kind: kind, message: packed[3].stringValue ?? value.description,
                           traceback: packed[2].stringValue ?? "", value: value)
        logger.debug("Lua call failed: \(err.message)")
        finished.append((c, .failure(err)))
    }

    // MARK: serving

    /// EMBED_SERVE: the host's main task starts serving requests.
    private func serve(_ k: Kernel) -> Int32 {
        mainTask = k.current
        k.spinBeforeSleep = host.spin
        k.afterCycle = { [unowned self] in finishCalls() }
        k.onPost = { [unowned self] _, _ in
            for w in host.takeWork() { w.run(self) }
        }
        for w in host.startServing(inbox: k.inbox) { w.run(self) }
        return 0
    }

    /// Ends the serve loop: the main task is cancelled, then every other task. From
    /// now on the hook raises TaskCancelled in every task at every instruction, so
    /// a task that catches its cancellation cannot hold the shutdown up.
    func stopServing() {
        closing = true
        guard let k = kernel else { return }
        // The hook at every instruction (coroutines made from now on inherit it).
        cl_embed_sethook(L, 1)
        for id in k.tasks.ids { if let co = k.tasks[id]?.hostPointer { cl_embed_sethook(co, 1) } }
        if let m = mainTask { k.cancel(m) }
    }
    private var closing = false

    func unref(_ refs: [Int32]) {
        for r in refs { cl_embed_unref(L, r) }
    }

    /// Fails whatever is still pending once the kernel is gone.
    func failPending() {
        finishCalls()
        for (_, c) in calls { c.finish(.failure(LuaHostError.closed)) }
        calls = [:]
        callByTask = [:]
        for (_, j) in jobs { j.task?.cancel() }
        jobs = [:]
        executor?.close()
    }
}

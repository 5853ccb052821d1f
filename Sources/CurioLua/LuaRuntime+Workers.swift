import CLua54
import CLuaShim
import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// Kernel calls of the workers (rows 300-349 of curio_ops.h):
/// - THREAD_SUBMIT(box): runs the call message on the thread pool; returns a job id
///   for the THREAD trap.
/// - THREAD_RESULT(job): the outcome message box of a finished job.
/// - HOST_CALL(name, box): runs the Swift function registered as `name` on the
///   thread pool with the arguments in `box`; returns a job id for the THREAD trap
///   (THREAD_RESULT collects the outcome, in run_in_thread's format).
/// - UNIVERSAL_WAIT(obj, what): registers the task as a waiter of a Universal
///   object; returns a job id for the THREAD trap, or nothing if the condition
///   already holds (the caller retries at once).
/// An encoded message owned by Swift while it crosses threads; freed unless taken.
/// Handed from one thread to the next through the pool and the inbox, which
/// synchronize, so one thread uses it at a time.
final class MessageRef: @unchecked Sendable {
    private var p: UnsafeMutablePointer<cl_msg>?
    init(_ p: UnsafeMutablePointer<cl_msg>?) { self.p = p }
    func take() -> UnsafeMutablePointer<cl_msg>? {
        defer { p = nil }
        return p
    }
    deinit { cl_msg_free(p) }
}

/// The wake-up of a task waiting on a Universal object: posts to its kernel's inbox
/// (from whichever thread changed the object).
private func universalWake(_ ctx: UnsafeMutableRawPointer?, _ token: Int64) {
    Unmanaged<KernelInbox>.fromOpaque(ctx!).takeUnretainedValue().post(token: Int(token), 0)
}

private final class TokenBox { var token = 0 }

/// A Swift function Lua may call; it runs on the kernel's thread pool.
public typealias BlockingFunction = @Sendable ([TransferValue]) throws -> [TransferValue]

/// Runs a registered function on a pool thread: decodes its arguments, encodes
/// its outcome as run_in_thread's (0, results...) or (1, message, traceback).
private func runBlocking(_ fn: BlockingFunction, _ input: MessageRef) -> UnsafeMutablePointer<cl_msg>? {
    guard let m = input.take() else { return nil }
    defer { cl_msg_free(m) }
    do {
        let args = try decodeValues(m)
        return try encodeValues([.int(0)] + fn(args))
    } catch {
        let text: String
        if let e = error as? TransferError { text = e.message } else { text = "\(error)" }
        return try? encodeValues([.int(1), .text(text), .text("")])
    }
}

extension LuaRuntime {
    /// Same rules as `kcall`: only non-raising Lua API calls.
    func workerCall(_ L: OpaquePointer, _ call: CurioKCall, nargs: Int32) -> Int32 {
        guard let k = kernel else { return fail("curio: no kernel is running") }
        switch call {
        case .threadSubmit:
            guard let m = cl_msg_take(L, 2) else { return fail("curio: bad call message") }
            let input = MessageRef(m)
            guard let id = submitJob({ MessageRef(cl_worker_call(input.take())) }) else {
                return fail("curio: no kernel is running")
            }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        case .threadResult:
            guard let r = takeJobResult(Int(lua_tointegerx(L, 2, nil))) as? MessageRef, let m = r.take() else {
                lua_pushnil(L)
                return 1
            }
            return cl_msg_pushbox(L, m) == 0 ? 1 : fail("not enough memory")
        case .universalWait:
            guard let o = cl_uobj_check(L, 2) else { return fail("curio: not a Universal object") }
            let what = Int32(truncatingIfNeeded: lua_tointegerx(L, 3, nil))
            let inbox = Unmanaged.passUnretained(k.inbox).toOpaque()
            let box = TokenBox()
            cl_uobj_retain(o)
            let (id, complete) = makeJob(onCancel: { [unowned k] in
                cl_uobj_unwait_task(o, inbox, Int64(box.token))
                k.forgetExternal(box.token)
                cl_uobj_release(o)
            })
            box.token = k.expectExternal { r in
                cl_uobj_release(o)
                complete(r)
            }
            if cl_uobj_wait_task(o, what, universalWake, inbox, Int64(box.token)) != 0 {
                k.forgetExternal(box.token)
                cl_uobj_release(o)
                complete(0)
                _ = takeJobResult(id)
                return 0
            }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        case .hostCall:
            var len = 0
            guard lua_type(L, 2) == LUA_TSTRING, let p = lua_tolstring(L, 2, &len) else {
                return fail("curio: host function name must be a string")
            }
            let name = String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
            guard let fn = blockingFunctions[name] else { return fail("curio: no host function '\(name)'") }
            guard let m = cl_msg_take(L, 3) else { return fail("curio: bad call message") }
            let input = MessageRef(m)
            guard let id = submitJob({ MessageRef(runBlocking(fn, input)) }) else {
                return fail("curio: no kernel is running")
            }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        default:
            return fail("curio: kernel call \(call.rawValue) is not a workers call")
        }
    }
}

extension LuaRuntime {
    /// Registers `fn` as a blocking host function: Lua calls it with
    /// `curio.workers.call_host(name, ...)` (or `curio.workers.host.name(...)`)
    /// from a task, which waits while `fn` runs on the kernel's thread pool (other
    /// tasks keep running). Arguments and results are transferable values; an error
    /// thrown by `fn` raises `WorkerError` with its description.
    public func registerBlocking(_ name: String, _ fn: @escaping BlockingFunction) {
        blockingFunctions[name] = fn
    }
}

/// The main loop of a worker process (`curio-lua --curio-worker-process PID`):
/// serves run_in_process calls on descriptor 3; returns the exit status.
public func runWorkerProcess(parent: String) -> Int32 {
    cl_worker_process_main(Int(parent) ?? 0)
}

/// For embedders: `curio.run_in_process` starts the current executable again with
/// `--curio-worker-process PID`. Call this first thing in `main`: in a worker it
/// serves calls and exits; otherwise it returns at once.
public func runWorkerProcessIfRequested() {
    let args = CommandLine.arguments
    guard args.count >= 2, args[1] == "--curio-worker-process" else { return }
    exit(runWorkerProcess(parent: args.count > 2 ? args[2] : ""))
}

import CLua54
import CLuaShim
import CSys
import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// A runtime's diagnostics (CURIO_DEBUG, `curio.diagnostics`): the kernel tracer
/// that reports steps and traps, and where report lines go. The Lua side formats
/// each event (it knows task names and tracebacks); this side only decides which
/// events to report, so a kernel without diagnostics has no tracer at all.
final class LuaDiagnostics: KernelTracer {
    struct Options: OptionSet {
        let rawValue: Int
        static let schedtrace = Options(rawValue: 1)
        static let traptrace = Options(rawValue: 2)
        static let longblock = Options(rawValue: 4)
    }

    unowned(unsafe) let runtime: LuaRuntime
    var options: Options = []
    /// Seconds a task may run without blocking before `longblock` warns.
    var longblock = 0.05
    /// The host's logger (nil: the Lua side writes to stderr).
    var logger: ((String) -> Void)?
    private var failed = false

    init(runtime: LuaRuntime) {
        self.runtime = runtime
    }

    /// What a kernel should trace with: nil while every option is off.
    var tracer: KernelTracer? { options.isEmpty ? nil : self }

    func resuming(_ t: TaskRecord, _ r: Resumption, kernel: Kernel) {
        guard options.contains(.schedtrace) else { return }
        let how = switch r {
        case .value: ""
        case .cancel(.cancelled): "cancelled"
        case .cancel(.timeout): "timeout"
        case .cancel(.custom): "cancelled"
        }
        event("resume", t, how, 0)
    }

    func suspended(_ t: TaskRecord, _ trap: Trap, ran: Double, kernel: Kernel) {
        let exited = if case .exit = trap { true } else { false }
        if options.contains(.traptrace) && !exited { event("trap", t, describe(trap, kernel), ran) }
        if options.contains(.schedtrace) { event(exited ? "exit" : "suspend", t, "", ran) }
        if options.contains(.longblock), ran >= longblock { event("longblock", t, "", ran) }
    }

    private func describe(_ trap: Trap, _ kernel: Kernel) -> String {
        switch trap {
        case .sleep(let until):
            let dt = until - kernel.clock()
            return until <= 0 || dt <= 0 ? "sleep(0)" : "sleep(\(seconds(dt)))"
        case .wait(_, let state): return "wait(\(state.name))"
        case .io(let fd, let write): return "io(fd=\(fd), \(write ? "write" : "read"))"
        case .join(let other): return "join(task \(other.id))"
        case .external(let state, _): return "external(\(state.name))"
        case .resume(let v): return "resume(\(v))"
        case .exit: return "exit" // not reported: the task ended
        }
    }

    private func seconds(_ s: Double) -> String {
        var buf = [CChar](repeating: 0, count: 32)
        _ = withVaList([s]) { vsnprintf(&buf, buf.count, "%.6g", $0) }
        return String(cBuffer: buf)
    }

    private func event(_ kind: String, _ t: TaskRecord, _ detail: String, _ secs: Double) {
        guard t.hostRef != 0 else { return }
        var err = [CChar](repeating: 0, count: 256)
        if cl_diag_event(runtime.L, kind, t.hostRef, detail, secs, &err, err.count) != 0, !failed {
            failed = true // say it once, not once per step
            csys_eprint("curio: diagnostics failed: \(String(cBuffer: err))\n")
        }
    }
}

extension LuaRuntime {
    /// Where diagnostics go (CURIO_DEBUG output, task crash reports, monitor
    /// notices): each call gets one line, without its newline. Nil (the default):
    /// standard error. Called on the kernel's thread; it must not call into this
    /// runtime.
    public var diagnosticLog: ((String) -> Void)? {
        get { diagnostics.logger }
        set { diagnostics.logger = newValue }
    }

    /// Turns diagnostics on or off, as `CURIO_DEBUG` does for `curio-lua`:
    /// `try rt.setDebug("longblock=0.1,schedtrace")`. Throws on an unknown option.
    public func setDebug(_ list: String) throws(ScriptError) {
        _ = try callText("curio.diagnostics", "configure", [list])
    }

    /// The monitor's and the diagnostics' kernel calls (350-399 in curio_ops.h).
    /// Arguments start at index 2. Only non-raising API calls.
    func diagnosticsCall(_ L: OpaquePointer, _ call: CurioKCall) -> Int32 {
        switch call {
        case .debugLog:
            guard let logger = diagnostics.logger, lua_type(L, 2) == LUA_TSTRING else {
                lua_pushboolean(L, 0)
                return 1
            }
            var len = 0
            let p = lua_tolstring(L, 2, &len) // a string: no conversion, cannot raise
            logger(String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self))
            lua_pushboolean(L, 1)
            return 1
        case .debugSet:
            diagnostics.options = LuaDiagnostics.Options(rawValue: Int(lua_tointegerx(L, 2, nil)))
            let lb = lua_tonumberx(L, 3, nil)
            if lb.isFinite && lb >= 0 { diagnostics.longblock = lb }
            kernel?.tracer = diagnostics.tracer
            return 0
        case .taskIds:
            guard let k = kernel else { return 0 }
            let ids = k.tasks.ids.sorted()
            guard lua_checkstack(L, Int32(clamping: ids.count + 1)) != 0 else {
                return fail("curio: too many tasks to list (\(ids.count))")
            }
            for id in ids { lua_pushinteger(L, lua_Integer(id)) }
            return Int32(ids.count)
        case .taskGet:
            let id = lua_tointegerx(L, 2, nil)
            guard let k = kernel, let t = k.tasks[Int(id)], t.hostRef != 0 else {
                lua_pushnil(L)
                return 1
            }
            lua_rawgeti(L, Int32(CL_REGISTRYINDEX), lua_Integer(t.hostRef))
            return 1
        default:
            return fail("curio: kernel call \(call.rawValue) is not a diagnostics call")
        }
    }
}

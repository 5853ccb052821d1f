import CLua54
import CLuaShim
import CurioKernel

/// A task whose body is a Lua coroutine. Each step resumes it until it yields a
/// trap; the trap's arguments are read with non-raising API calls only.
final class LuaTaskBody: TaskBody {
    let co: OpaquePointer
    let ref: Int32
    unowned(unsafe) let runtime: LuaRuntime // the runtime owns every kernel and task
    private var started = false

    init(co: OpaquePointer, ref: Int32, runtime: LuaRuntime) {
        self.co = co
        self.ref = ref
        self.runtime = runtime
    }

    func step(_ task: TaskRecord, _ resume: Resumption, kernel: Kernel) -> Trap {
        var nargs: Int32 = 1 // first resume: the argument core.spawn left on the stack
        if started {
            guard lua_checkstack(co, 4) != 0 else { return .exit }
            switch resume {
            case .value(let v):
                lua_pushinteger(co, 0); lua_pushnumber(co, v)
            case .cancel(.cancelled):
                lua_pushinteger(co, 1); lua_pushnumber(co, 0)
            case .cancel(.timeout(let c)):
                lua_pushinteger(co, 2); lua_pushnumber(co, c)
            case .cancel(.custom(let code)):
                lua_pushinteger(co, 3); lua_pushinteger(co, lua_Integer(code))
            }
            nargs = 2
        }
        started = true
        var nres: Int32 = 0
        let status = lua_resume(co, runtime.L, nargs, &nres)
        if status == LUA_YIELD {
            defer { lua_settop(co, -nres - 1) }
            let base = -nres
            guard nres >= 2, lua_touserdata(co, base) == runtime.trapSentinel else {
                // A bare coroutine.yield() at task level: treat it as schedule().
                return .sleep(until: 0)
            }
            let op = lua_tointegerx(co, base + 1, nil)
            let a = lua_tonumberx(co, base + 2, nil)
            let b = lua_tonumberx(co, base + 3, nil)
            switch TrapOp(rawValue: Int(op)) {
            case .sleep:
                return .sleep(until: b != 0 ? a : (a <= 0 ? 0 : kernel.clock() + a))
            case .wait:
                guard let q = runtime.waitQueue(Int(a)) else { return .sleep(until: 0) }
                return .wait(q, TaskState(rawValue: Int(b)) ?? .eventWait)
            case .io:
                return .io(fd: Int32(a), write: b != 0)
            case .join:
                guard let other = kernel.tasks[Int(a)] else { return .sleep(until: 0) }
                if other === task { return .resume(-1) } // joining itself: the caller raises
                return .join(other)
            case .thread:
                return runtime.threadTrap(task, job: Int(a))
            case nil:
                return .sleep(until: 0)
            }
        }
        if status != LUA_OK {
            var buf = [CChar](repeating: 0, count: 1024)
            _ = cl_copystring(co, -1, &buf, buf.count)
            runtime.report(internalError: String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), task: task)
        }
        return .exit
    }

    func terminated(_ task: TaskRecord, kernel: Kernel) {
        _ = cl_unref(runtime.L, ref)
    }
}

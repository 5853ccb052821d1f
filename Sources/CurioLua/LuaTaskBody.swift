import CLua54
import CLuaShim
import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

/// The body of every Lua task of a runtime: the registry reference of its Lua object
/// is its `hostRef`, and its coroutine, made at its first step, its `hostPointer`.
/// Each step resumes the coroutine until it yields a trap, read with non-raising
/// calls only.
final class LuaTaskBody: TaskBody {
    unowned(unsafe) let runtime: LuaRuntime // the runtime owns every kernel and task

    init(runtime: LuaRuntime) {
        self.runtime = runtime
    }

    func step(_ task: TaskRecord, _ resume: Resumption, kernel: Kernel) -> Trap {
        guard let co = task.hostPointer ?? start(task) else { return .exit }
        // First resume: the body's arguments core.spawn left on the stack.
        var nargs: Int32 = lua_gettop(co) - 1
        if task.cycles > 1 {
            guard lua_checkstack(co, 4) != 0 else { return .exit }
            switch resume {
            case .value(let v):
                lua_pushinteger(co, st(.ok)); lua_pushnumber(co, v)
            case .cancel(.cancelled):
                lua_pushinteger(co, st(.cancelled)); lua_pushnumber(co, 0)
            case .cancel(.timeout(let c)):
                lua_pushinteger(co, st(.timeout)); lua_pushnumber(co, c)
            case .cancel(.custom(let code)):
                lua_pushinteger(co, st(.custom)); lua_pushinteger(co, lua_Integer(code))
            }
            nargs = 2
        }
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
            switch curio_trap_known(op) != 0 ? CurioTrap(rawValue: Int32(op)) : nil {
            case .sleep:
                return .sleep(until: b != 0 ? a : (a <= 0 ? 0 : kernel.clock() + a))
            // Trap arguments come from Lua as any number: convert exactly, never trapping.
            case .wait:
                guard let id = Int(exactly: a), let q = runtime.waitQueue(id) else { return .sleep(until: 0) }
                return .wait(q, Int(exactly: b).flatMap(TaskState.init(rawValue:)) ?? .eventWait)
            case .io:
                guard let fd = Int32(exactly: a), fd >= 0 else { return .resume(-Double(EBADF)) }
                return .io(fd: fd, write: b != 0)
            case .join:
                guard let id = Int(exactly: a), let other = kernel.tasks[id] else { return .sleep(until: 0) }
                if other === task { return .resume(-1) } // joining itself: the caller raises
                return .join(other)
            case .thread:
                guard let id = Int(exactly: a) else { return .sleep(until: 0) }
                return runtime.threadTrap(task, job: id)
            case .embedWait:
                guard let id = Int(exactly: a) else { return .resume(0) }
                return runtime.embedding?.waitTrap(task, job: id) ?? .resume(0)
            case nil:
                return .sleep(until: 0)
            }
        }
        // LUA_OK: core.task_body already recorded the outcome. An error means the
        // coroutine itself died (out of memory in the finisher, say): record that,
        // in protected mode on the main thread.
        if status == LUA_OK { return .exit }
        fail(task, co)
        return .exit
    }

    /// The coroutine of a task about to run for the first time (spawn makes none, so
    /// a task that has not run holds no stack). If it cannot be made, the task fails.
    private func start(_ task: TaskRecord) -> OpaquePointer? {
        if let co = cl_start_task(runtime.L, task.hostRef) {
            task.hostPointer = co
            return co
        }
        fail(task, nil)
        return nil
    }

    /// Records a failure outside the task's body (its coroutine died, or could not
    /// be made), in protected mode on the main thread.
    private func fail(_ task: TaskRecord, _ co: OpaquePointer?) {
        var err = [CChar](repeating: 0, count: 512)
        if cl_fail_task(runtime.L, co, task.hostRef, &err, err.count) != 0 {
            runtime.report(unrecorded: String(cBuffer: err), task: task)
        }
    }

    func terminated(_ task: TaskRecord, kernel: Kernel) {
        _ = cl_end_task(runtime.L, task.hostRef, Int64(task.cycles))
    }
}

/// A resume status of curio_ops.h as a Lua integer.
@inline(__always) private func st(_ s: CurioStatus) -> lua_Integer { lua_Integer(s.rawValue) }

/// Numbers shared with lua/curio/kernel.lua: the kernel calls (`core.kcall(op, ...)`,
/// never suspending) and the traps (`coroutine.yield(TRAP, op, ...)`, suspending).
enum KCall: Int {
    case current = 1, clock, cancel, taskInfo, timeoutEnter, timeoutLeave, cancelDisable,
         cancelPending, wqNew, wqFree, wqWake, wqLen, run, running, fdForget,
         interrupted = 17, readLine = 20, jobString
}

enum TrapOp: Int {
    case sleep = 1, wait, io, join, thread
}

/// Resume statuses pushed as the first value returned by a trap.
enum ResumeStatus: Int {
    case ok = 0, cancelled, timeout, custom
}

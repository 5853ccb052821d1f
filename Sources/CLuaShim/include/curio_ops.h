// The one table of numbers that C, Swift and Lua share for the trap protocol.
// - Kernel calls: `core.kcall(op, ...)`, answered at once (never suspend).
//   Numbers >= 100 are I/O services (LuaRuntime+IO.swift).
// - Traps: `core.trap(op, a, b)` yields (TRAP, op, a, b); the kernel acts on it.
// - Resume statuses: the first value a suspended task is resumed with.
// C reads the enums below, Swift imports them as Swift enums (`CurioKCall.current`),
// and Lua reads `core.K.CURRENT`, `core.T.SLEEP`, `core.S.TIMEOUT`, which
// luaopen_curio_core builds from the same lists. Add a row here and nowhere else.
#ifndef CURIO_OPS_H
#define CURIO_OPS_H

// X(LUA_NAME, swiftName, number)
#define CURIO_KCALLS(X) \
    X(CURRENT, current, 1) \
    X(CLOCK, clock, 2) \
    X(CANCEL, cancel, 3) \
    X(TASK_INFO, taskInfo, 4) \
    X(TIMEOUT_ENTER, timeoutEnter, 5) \
    X(TIMEOUT_LEAVE, timeoutLeave, 6) \
    X(CANCEL_DISABLE, cancelDisable, 7) \
    X(CANCEL_PENDING, cancelPending, 8) \
    X(WQ_NEW, wqNew, 9) \
    X(WQ_FREE, wqFree, 10) \
    X(WQ_WAKE, wqWake, 11) \
    X(WQ_LEN, wqLen, 12) \
    X(RUN, run, 13) \
    X(RUNNING, running, 14) \
    X(FD_FORGET, fdForget, 15) \
    X(INTERRUPTED, interrupted, 17) \
    X(READ_LINE, readLine, 20) \
    X(JOB_STRING, jobString, 21) \
    X(VIRTUAL_CLOCK, virtualClock, 400) \
    X(INTERRUPT_TARGET, interruptTarget, 401) \
    X(RESOLVE, resolve, 100) \
    X(JOB_RESULT, jobResult, 101) \
    X(FILE_OPEN, fileOpen, 102) \
    X(FILE_READ, fileRead, 103) \
    X(FILE_WRITE, fileWrite, 104) \
    X(FILE_CLOSE, fileClose, 105) \
    /* signals (LuaRuntime+Signals.swift, lua/curio/signal.lua) */ \
    X(SIG_WATCH, sigWatch, 200) \
    X(SIG_UNWATCH, sigUnwatch, 201) \
    X(SIG_TOTAL, sigTotal, 202) \
    X(SIG_EPOCH, sigEpoch, 203) \
    /* workers (LuaRuntime+Workers.swift) */ \
    X(THREAD_SUBMIT, threadSubmit, 300) \
    X(THREAD_RESULT, threadResult, 301) \
    X(UNIVERSAL_WAIT, universalWait, 302) \
    X(HOST_CALL, hostCall, 303) \
    /* monitor and diagnostics (LuaDiagnostics.swift) */ \
    X(TASK_IDS, taskIds, 350) \
    X(TASK_GET, taskGet, 351) \
    X(DEBUG_LOG, debugLog, 352) \
    X(DEBUG_SET, debugSet, 353) \
    /* embedding (Sources/CurioLua/Embedding): 450-499 */ \
    X(EMBED_SERVE, embedServe, 450)

#define CURIO_TRAPS(X) \
    X(SLEEP, sleep, 1) \
    X(WAIT, wait, 2) \
    X(IO, io, 3) \
    X(JOIN, join, 4) \
    X(THREAD, thread, 5) \
    X(EMBED_WAIT, embedWait, 450)

// 1-3 are deliveries of a cancellation; 9 and 10 say a blocking call was made
// where it cannot suspend.
#define CURIO_STATUSES(X) \
    X(OK, ok, 0) \
    X(CANCELLED, cancelled, 1) \
    X(TIMEOUT, timeout, 2) \
    X(CUSTOM, custom, 3) \
    X(NOT_IN_TASK, notInTask, 9) \
    X(NOT_YIELDABLE, notYieldable, 10)

#define CURIO_ENUM(T, LIST) \
    typedef enum __attribute__((enum_extensibility(closed))) T : int { LIST(CURIO_ENUM_ROW_##T) } T;
#define CURIO_ENUM_ROW_CurioKCall(N, s, v) CurioKCall_##s = v,
#define CURIO_ENUM_ROW_CurioTrap(N, s, v) CurioTrap_##s = v,
#define CURIO_ENUM_ROW_CurioStatus(N, s, v) CurioStatus_##s = v,
CURIO_ENUM(CurioKCall, CURIO_KCALLS)
CURIO_ENUM(CurioTrap, CURIO_TRAPS)
CURIO_ENUM(CurioStatus, CURIO_STATUSES)

// Whether a number is in a list (C enums take any value, so Swift checks first).
#define CURIO_CASE(N, s, v) case v:
static inline int curio_kcall_known(long long v) {
    switch (v) { CURIO_KCALLS(CURIO_CASE) return 1; default: return 0; }
}
static inline int curio_trap_known(long long v) {
    switch (v) { CURIO_TRAPS(CURIO_CASE) return 1; default: return 0; }
}
#endif

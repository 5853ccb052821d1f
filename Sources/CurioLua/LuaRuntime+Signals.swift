import CLua54
import CLuaShim
import CSys
import CurioKernel
#if canImport(Glibc)
import Glibc
#endif

// Kernel calls SIG_WATCH, SIG_UNWATCH, SIG_TOTAL, SIG_EPOCH (200-203 in
// curio_ops.h): Unix signals for `curio.signal` (lua/curio/signal.lua).
// The async-signal-safe handler in CSys counts deliveries and wakes the kernel
// through its inbox; each cycle the kernel hands the counts to `signalArrived`,
// which adds them to a running total per signal and wakes every task waiting on
// the signal wait queue. Each SignalQueue/SignalEvent remembers the totals it has
// consumed, so none is lost while it is open and several may watch one signal.

/// What the runtime knows about watched signals during one run.
final class SignalWatches {
    /// Open Lua watchers (queues, events) per signal.
    var watchers: [Int32: Int] = [:]
    /// Deliveries per signal since the run began (only while watched).
    var totals: [Int32: Int] = [:]
    /// The Lua wait queue woken on every delivery.
    var queueId = 0
    /// Incremented when a run ends: watchers from an earlier run are stale.
    var epoch = 1
}

extension LuaRuntime {
    /// (sig, wait queue id) -> total so far, run epoch: `watch` installs the handler
    /// for the first watcher of `sig`; (sig, epoch): `unwatch` restores the
    /// previous disposition after the last; (sig) -> `total` deliveries this run;
    /// () -> `epoch`, which changes with every `curio.run`.
    func signalCall(_ L: OpaquePointer, _ call: CurioKCall) -> Int32 {
        let s = signals
        switch call {
        case .sigEpoch:
            lua_pushinteger(L, lua_Integer(s.epoch))
            return 1
        case .sigTotal:
            guard let sig = Int32(exactly: lua_tointegerx(L, 2, nil)) else { lua_pushinteger(L, 0); return 1 }
            syncSignal(sig)
            lua_pushinteger(L, lua_Integer(s.totals[sig] ?? 0))
            return 1
        case .sigWatch:
            guard let k = kernel, isRunning else { return fail("curio: no kernel is running") }
            guard let sig = Int32(exactly: lua_tointegerx(L, 2, nil)), sig > 0, sig < 65 else {
                return fail("curio: bad signal number")
            }
            syncSignal(sig)
            let n = s.watchers[sig] ?? 0
            if n == 0 && !(sig == SIGINT && handlesInterrupt) {
                do { try k.watchSignal(sig) } catch { return fail("sigaction: \(error)") }
            }
            if n == 0 && sig == SIGINT && handlesInterrupt { csys_signal_exit_after(SIGINT, 0, 0) } // the queue has it
            s.watchers[sig] = n + 1
            s.queueId = Int(lua_tointegerx(L, 3, nil))
            lua_pushinteger(L, lua_Integer(s.totals[sig] ?? 0))
            lua_pushinteger(L, lua_Integer(s.epoch))
            return 2
        case .sigUnwatch:
            guard let sig = Int32(exactly: lua_tointegerx(L, 2, nil)), lua_tointegerx(L, 3, nil) == s.epoch,
                  let n = s.watchers[sig] else { return 0 }
            if n > 1 { s.watchers[sig] = n - 1; return 0 }
            s.watchers[sig] = nil
            if !(sig == SIGINT && handlesInterrupt) { kernel?.unwatchSignal(sig) }
            if sig == SIGINT && handlesInterrupt && isRunning { armInterruptExit() }
            return 0
        default:
            return fail("curio: kernel call \(call.rawValue) is not a signal call")
        }
    }

    /// Takes the deliveries the handler counted since the kernel last looked, so
    /// that a check made right after a delivery sees it.
    private func syncSignal(_ sig: Int32) {
        guard signals.watchers[sig] != nil || (sig == SIGINT && handlesInterrupt) else { return }
        let n = Int(csys_signal_take(sig))
        if n > 0 { signalArrived(sig, n) }
    }

    /// On the kernel thread: `n` deliveries of `sig`. SIGINT cancels the main task
    /// (when the runtime handles it) unless a Lua watcher has it.
    func signalArrived(_ sig: Int32, _ n: Int) {
        let s = signals
        if sig == SIGINT && handlesInterrupt && (s.watchers[SIGINT] ?? 0) == 0 {
            interrupted(n)
            return
        }
        guard (s.watchers[sig] ?? 0) > 0 else { return }
        s.totals[sig, default: 0] += n
        if let k = kernel, let q = waitQueue(s.queueId) { k.wake(q, count: Int.max) }
    }

    /// At the end of a run: every signal watched from Lua gets its previous
    /// disposition back, and the open watchers become stale.
    func endSignalWatches(_ k: Kernel) {
        let s = signals
        for sig in s.watchers.keys where !(sig == SIGINT && handlesInterrupt) { k.unwatchSignal(sig) }
        s.watchers = [:]
        s.totals = [:]
        s.queueId = 0
        s.epoch += 1
    }
}

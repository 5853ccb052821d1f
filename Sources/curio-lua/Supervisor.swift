import CSys
#if canImport(Glibc)
import Glibc
#endif

/// `curio-lua --processes N|auto script.lua [args]`: runs N worker processes, each
/// curio-lua itself running the script as the main task of its own kernel, and
/// keeps them running (docs/processes.md has the policy):
/// - a worker that dies is restarted after a delay that doubles (0.1 s up to 30 s)
///   while the worker keeps dying within 10 s of its start, and is 0.1 s again once
///   one ran longer; why it died (exit status or signal) is logged on stderr;
/// - a worker that exits with status 0 finished its work: it is not restarted;
/// - SIGINT, SIGTERM and SIGHUP are forwarded to every worker. SIGINT and SIGTERM
///   end the supervision: nothing is restarted any more, and the supervisor exits
///   once every worker has (status 0, or 130 after SIGINT). SIGHUP does not: a
///   worker that handles it goes on, one that dies of it is restarted at once
///   (a reload of the script).
/// Workers get CURIO_PROCESS_INDEX (1...N) and CURIO_SUPERVISOR_PID; `Worker.adopt`
/// takes them out of the environment and asks the kernel for SIGKILL when the
/// supervisor dies, so no worker outlives it.
struct Supervisor {
    static let indexVariable = "CURIO_PROCESS_INDEX"
    static let supervisorVariable = "CURIO_SUPERVISOR_PID"
    static let firstDelay = 0.1, maxDelay = 30.0, healthyRun = 10.0

    struct Worker {
        var pid: pid_t = 0
        var startedAt = 0.0
        var delay = 0.0
        var restartAt: Double?  // nil: running, or not to be restarted
        var finished = false
    }

    let argv: [String]  // the worker's command line, argv[0] first
    var workers: [Worker]
    var stopSignal: Int32 = 0

    /// The process count and the rest of the command line when `args` (options
    /// before the script) hold `--processes N` or `--processes=N`; nil otherwise.
    /// Exits with a usage message on a bad count or a missing script.
    static func parse(_ args: [String]) -> (Int, [String])? {
        var skip = false
        for (i, a) in args.enumerated() {
            if skip { skip = false; continue }
            if a == "--" || a == "-" || !a.hasPrefix("-") { return nil }
            // Options whose value is the next argument (as curio.cli reads them).
            if a == "-e" || a == "-l" || a == "--debug" { skip = true; continue }
            var value: String?
            var used = 1
            if a == "--processes" {
                value = i + 1 < args.count ? args[i + 1] : nil
                used = 2
            } else if a.hasPrefix("--processes=") {
                value = String(a.dropFirst("--processes=".count))
            } else {
                continue
            }
            var rest = args
            rest.removeSubrange(i..<min(args.count, i + used))
            guard let n = value.flatMap(count) else {
                usage("--processes needs a number of processes (1-4096) or 'auto'")
            }
            // The workers need a script: without one each would read stdin or open a REPL.
            guard rest.contains(where: { !$0.hasPrefix("-") }) else { usage("--processes needs a script") }
            if rest.contains(where: { $0 == "-i" || $0 == "-" }) { usage("--processes runs a script, not -i or stdin") }
            return (n, rest)
        }
        return nil
    }

    private static func count(_ s: String) -> Int? {
        if s == "auto" { return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }
        guard let n = Int(s), (1...4096).contains(n) else { return nil }
        return n
    }

    private static func usage(_ msg: String) -> Never {
        csys_eprint("curio-lua: \(msg)\n")
        exit(1)
    }

    init(count: Int, argv: [String]) {
        self.argv = argv
        workers = Array(repeating: Worker(), count: count)
    }

    /// Supervises until every worker is gone; returns the exit status.
    mutating func run() -> Int32 {
        // Signals are taken synchronously (sigtimedwait), never by a handler.
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGCHLD] { sigaddset(&set, s) }
        sigprocmask(SIG_BLOCK, &set, nil)
        for i in workers.indices { start(i) }
        while true {
            reap()
            if workers.allSatisfy({ $0.pid == 0 && $0.restartAt == nil }) { break }
            let now = csys_monotonic()
            for i in workers.indices {
                if let at = workers[i].restartAt, at <= now { start(i) }
            }
            let next = workers.compactMap(\.restartAt).min()
            var info = siginfo_t()
            let sig: Int32
            if let next {
                let dt = max(0, next - csys_monotonic())
                var ts = timespec(tv_sec: Int(dt), tv_nsec: Int((dt - dt.rounded(.down)) * 1e9))
                sig = sigtimedwait(&set, &info, &ts)
            } else {
                sig = sigwaitinfo(&set, &info)
            }
            if sig == SIGINT || sig == SIGTERM { stop(sig) }
            if sig == SIGHUP { forward(sig) }
        }
        return stopSignal == SIGINT ? 130 : 0
    }

    /// Forwards `sig` to every worker; nothing is restarted from now on.
    private mutating func stop(_ sig: Int32) {
        if stopSignal == 0 || sig == SIGINT { stopSignal = sig }
        for i in workers.indices { workers[i].restartAt = nil }
        forward(sig)
    }

    private func forward(_ sig: Int32) {
        for w in workers where w.pid > 0 { kill(w.pid, sig) }
    }

    private mutating func reap() {
        var status: Int32 = 0
        while true {
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            guard let i = workers.firstIndex(where: { $0.pid == pid }) else { continue }
            workers[i].pid = 0
            let ran = csys_monotonic() - workers[i].startedAt
            let sig = status & 0x7f, code = (status >> 8) & 0xff
            let why = sig == 0 ? "exited with status \(code)" : "was killed by signal \(sig) (\(signalName(sig)))"
            if stopSignal != 0 { continue } // shutting down: every exit is expected
            if sig == 0 && code == 0 {
                workers[i].finished = true
                log("worker \(i + 1) (pid \(pid)) \(why): its work is done, not restarted")
                continue
            }
            // Dying of SIGHUP (forwarded, say) is a reload, not a failure: no backoff.
            let reload = sig == SIGHUP
            let d = ran >= Supervisor.healthyRun || workers[i].delay == 0 || reload
                ? Supervisor.firstDelay : min(workers[i].delay * 2, Supervisor.maxDelay)
            workers[i].delay = d
            workers[i].restartAt = csys_monotonic() + d
            log("worker \(i + 1) (pid \(pid)) \(why) after \(seconds(ran)); restarting it in \(seconds(d))")
        }
    }

    private mutating func start(_ i: Int) {
        workers[i].restartAt = nil
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // The worker starts with no signal blocked and default dispositions, in its
        // own process group (a terminal's Ctrl-C reaches it once, forwarded from here).
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attr, &none)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))

        var env = environment().filter {
            !$0.hasPrefix(Supervisor.indexVariable + "=") && !$0.hasPrefix(Supervisor.supervisorVariable + "=")
        }
        env.append("\(Supervisor.indexVariable)=\(i + 1)")
        env.append("\(Supervisor.supervisorVariable)=\(getpid())")
        var pid: pid_t = 0
        let rc = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in posix_spawn(&pid, "/proc/self/exe", nil, &attr, cargv, cenv) }
        }
        workers[i].startedAt = csys_monotonic()
        if rc != 0 {
            // Cannot start (out of processes, say): try again later, with the backoff.
            let d = min(max(workers[i].delay * 2, Supervisor.firstDelay), Supervisor.maxDelay)
            workers[i].delay = d
            workers[i].restartAt = workers[i].startedAt + d
            log("cannot start worker \(i + 1): \(String(cString: strerror(rc))); trying again in \(seconds(d))")
            return
        }
        workers[i].pid = pid
    }

    private func log(_ s: String) { csys_eprint("curio-lua: \(s)\n") }
    private func seconds(_ s: Double) -> String {
        let ms = Int((s * 1000).rounded())
        return "\(ms / 1000).\(String(ms % 1000 + 1000).dropFirst()) s"
    }
    private func signalName(_ s: Int32) -> String {
        switch s {
        case SIGKILL: "SIGKILL"
        case SIGTERM: "SIGTERM"
        case SIGINT: "SIGINT"
        case SIGHUP: "SIGHUP"
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGTRAP: "SIGTRAP"
        case SIGPIPE: "SIGPIPE"
        default: "signal \(s)"
        }
    }
}

/// The worker side of `--processes`.
enum Worker {
    /// In a worker: its index. Takes the supervisor's variables out of the
    /// environment (the script's own child processes are no workers), and has the
    /// kernel SIGKILL this process when the supervisor dies.
    static func adopt() -> String? {
        guard let v = getenv(Supervisor.indexVariable) else { return nil }
        let index = String(cString: v)
        let parent = getenv(Supervisor.supervisorVariable).flatMap { Int32(String(cString: $0)) }
        unsetenv(Supervisor.indexVariable)
        unsetenv(Supervisor.supervisorVariable)
        guard let parent else { return nil }
        _ = csys_set_parent_death_signal(SIGKILL)
        // The supervisor may have died before the line above: then no signal comes.
        if getppid() != parent { exit(1) }
        return index
    }
}

private func environment() -> [String] {
    var out: [String] = []
    var p = environ
    while let s = p.pointee {
        out.append(String(cString: s))
        p += 1
    }
    return out
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var c: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    c.append(nil)
    defer { for p in c { free(p) } }
    return body(c)
}

import CurioLua
import CSys
import CLineEdit
import CStubs
#if canImport(Glibc)
import Glibc
#endif

// `-E` must be known before the standard libraries read LUA_PATH/LUA_CPATH.
var args = Array(CommandLine.arguments.dropFirst())
// A worker process of curio.run_in_process (lua/curio/workers.lua).
runWorkerProcessIfRequested()
var ignoreEnv = false
for a in args {
    if a == "-E" { ignoreEnv = true }
    if a == "--" || a == "-" || !a.hasPrefix("-") { break }
}

// A write into a pipe whose reader has gone is an EPIPE error, as in Python, Go and
// Rust programs, never a process-killing SIGPIPE (children get the default back).
signal(SIGPIPE, SIG_IGN)

// `--processes N`: this process only supervises workers (Supervisor.swift).
if let (n, rest) = Supervisor.parse(args) {
    var s = Supervisor(count: n, argv: [CommandLine.arguments[0]] + rest)
    exit(s.run())
}
let processIndex = Worker.adopt()

/// Runs the CLI and returns the exit status. The runtime (and its Lua state) is
/// released when this returns, so every exit path closes the state first: `__gc`
/// and `__close` handlers run, and LeakSanitizer sees nothing left behind.
@MainActor func runCLI() -> Int32 {
    let rt: LuaRuntime
    do {
        rt = try LuaRuntime(ignoreEnvironment: ignoreEnv)
    } catch {
        csys_eprint("curio-lua: \(error)\n")
        return 1
    }
    rt.handlesInterrupt = true
    // The REPL's line editing (libedit), offered to Lua as `curio.lineedit`.
    _ = rt.withLuaState { curio_lineedit_install(UnsafeMutableRawPointer($0)) }
    // The LuaLS stubs, for `curio-lua --types DIR`.
    _ = rt.withLuaState { curio_stubs_install(UnsafeMutableRawPointer($0)) }
    if let processIndex { _ = rt.callModule("curio.processes", "_set_index", [processIndex]) }
    let (status, err) = rt.callModule("curio.cli", "main", [CommandLine.arguments[0]] + args)
    if let err {
        csys_eprint("curio-lua: \(err)\n")
        return 1
    }
    return status ?? 0
}

let status = runCLI()
csys_flush_stdout()
exit(status)

import CurioLua
import CSys
#if canImport(Glibc)
import Glibc
#endif

// `-E` must be known before the standard libraries read LUA_PATH/LUA_CPATH.
var args = Array(CommandLine.arguments.dropFirst())

// `--processes N`: this process only supervises workers (Supervisor.swift).
if let (n, rest) = Supervisor.parse(args) {
    var s = Supervisor(count: n, argv: [CommandLine.arguments[0]] + rest)
    exit(s.run())
}
let processIndex = Worker.adopt()
var ignoreEnv = false
for a in args {
    if a == "-E" { ignoreEnv = true }
    if a == "--" || a == "-" || !a.hasPrefix("-") { break }
}

do {
    let rt = try LuaRuntime(ignoreEnvironment: ignoreEnv)
    rt.handlesInterrupt = true
    if let processIndex { _ = rt.callModule("curio.workers", "_set_index", [processIndex]) }
    let (status, err) = rt.callModule("curio.cli", "main", [CommandLine.arguments[0]] + args)
    if let err {
        csys_eprint("curio-lua: \(err)\n")
        exit(1)
    }
    csys_flush_stdout()
    exit(status ?? 0)
} catch {
    csys_eprint("curio-lua: \(error)\n")
    exit(1)
}

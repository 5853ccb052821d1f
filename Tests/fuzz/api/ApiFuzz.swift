// The API-argument fuzz target: libFuzzer feeds bytes that Tests/fuzz/api_fuzz.lua
// turns into calls of curio's public functions and methods with random arguments,
// in a LuaRuntime (the CLI's runtime, Swift and all) that lives across inputs.
//
// Built by scripts/fuzz.sh with `-sanitize=fuzzer,address -D CURIO_FUZZ` (libFuzzer
// supplies main). Without CURIO_FUZZ (the package's ordinary builds), this is a
// replay tool: `curio-api-fuzz FILE...` runs each input once, as the fuzzer would.
import CurioLua
import CLua54
#if canImport(Glibc)
import Glibc
#endif

/// Tests/fuzz/, where the Lua driver is (found from this file's path at build time).
let fuzzDir: String = {
    var p = #filePath
    for _ in 0..<2 { while let c = p.popLast(), c != "/" {} }
    return p
}()

nonisolated(unsafe) var runtime: LuaRuntime?
nonisolated(unsafe) var edges = [UInt8](repeating: 0, count: 1 << 16)
nonisolated(unsafe) var prevLine: Int32 = 0

func setUp() -> LuaRuntime {
    if let runtime { return runtime }
    signal(SIGPIPE, SIG_IGN)
    setenv("LUA_PATH", "\(fuzzDir)/?.lua;;", 1)
    let rt: LuaRuntime
    do { rt = try LuaRuntime() } catch { fatalError("api fuzz: \(error)") }
    runtime = rt
    return rt
}

func eprint(_ s: String) { s.withCString { _ = write(2, $0, strlen($0)) } }

let hexDigits = Array("0123456789abcdef".utf8)

/// Runs one input; a finding aborts (libFuzzer keeps the input).
func runOne(_ data: UnsafeBufferPointer<UInt8>) {
    let rt = setUp()
    var hex = [UInt8]()
    hex.reserveCapacity(data.count * 2)
    for b in data {
        hex.append(hexDigits[Int(b >> 4)])
        hex.append(hexDigits[Int(b & 15)])
    }
    let (_, err) = rt.callModule("api_fuzz", "one", [String(decoding: hex, as: UTF8.self)])
    if let err {
        eprint("api fuzz finding:\n\(err)\n")
        abort()
    }
}

#if CURIO_FUZZ
// libFuzzer's own symbols: register a counters array of our own, fed by a Lua line
// hook with (previous line, line) pairs of curio's Lua modules, so that coverage of
// the Lua library (which libFuzzer cannot see) guides the fuzzer too.
@_silgen_name("__sanitizer_cov_8bit_counters_init")
func covCountersInit(_ start: UnsafeMutablePointer<UInt8>, _ stop: UnsafeMutablePointer<UInt8>)

// Each counter needs an entry (pc, flags) in a PC table; ours are made-up PCs.
@_silgen_name("__sanitizer_cov_pcs_init")
func covPCsInit(_ start: UnsafePointer<UInt>, _ stop: UnsafePointer<UInt>)
nonisolated(unsafe) var pcTable: [UInt] = (0..<(2 << 16)).map { $0 % 2 == 0 ? UInt(0x1000_0000 + $0 / 2) : 0 }

let lineHook: lua_Hook = { L, ar in
    guard let L, let ar, lua_getinfo(L, "S", ar) != 0, let src = ar.pointee.source else { return }
    // curio's modules are embedded: their chunk names start with "@[curio]/".
    guard strncmp(src, "@[curio]", 8) == 0 else { return }
    let line = ar.pointee.currentline
    let h = (UInt32(truncatingIfNeeded: prevLine) &* 2654435761) ^ UInt32(truncatingIfNeeded: line)
        ^ UInt32(truncatingIfNeeded: Int(bitPattern: src) >> 4)
    edges.withUnsafeMutableBufferPointer { $0[Int(h & 0xffff)] &+= 1 }
    prevLine = line
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInit(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    runWorkerProcessIfRequested() // a run_in_process worker: serves and exits
    edges.withUnsafeMutableBufferPointer { covCountersInit($0.baseAddress!, $0.baseAddress! + $0.count) }
    pcTable.withUnsafeBufferPointer { covPCsInit($0.baseAddress!, $0.baseAddress! + $0.count) }
    let rt = setUp()
    if getenv("API_FUZZ_NO_HOOK") == nil {
        rt.withLuaState { lua_sethook($0, lineHook, LUA_MASKLINE, 0) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    runOne(UnsafeBufferPointer(start: data, count: size))
    return 0
}

// SwiftPM gives an executable target's main a name of its own, so libFuzzer's main
// is not used: ours runs libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func fuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main struct Fuzz {
    static func main() {
        runWorkerProcessIfRequested()
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(fuzzerRunDriver(&argc, &argv, fuzzOne))
    }
}
#else
@main struct Replay {
    static func main() {
        runWorkerProcessIfRequested()
        var files = [String]()
        for a in CommandLine.arguments.dropFirst() {
            var st = stat()
            if stat(a, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR, let d = opendir(a) {
                while let e = readdir(d) {
                    let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                    if !name.hasPrefix(".") { files.append("\(a)/\(name)") }
                }
                closedir(d)
            } else {
                files.append(a)
            }
        }
        for f in files {
            guard let fp = fopen(f, "rb") else { eprint("cannot open \(f)\n"); exit(2) }
            var bytes = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = fread(&buf, 1, buf.count, fp)
                if n <= 0 { break }
                bytes += buf[0..<n]
            }
            fclose(fp)
            bytes.withUnsafeBufferPointer { runOne($0) }
        }
        print("api fuzz replay: \(files.count) inputs, no finding")
    }
}
#endif

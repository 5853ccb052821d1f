// embed-bench [scale]: the embedding API's costs, each next to its reference,
// measured in the same run. Prints "name value unit reference" lines.
//   sync_call_ns: Lua calling a synchronous Swift function, vs a plain lua_CFunction
//   async_roundtrip: Lua calling an async Swift function, sequentially and from 100
//     tasks, vs the floor of one hop to another thread and back (Swift semaphores)
//   swift_call: Swift calling a Lua function, sequentially and from 100 Swift tasks
import CEmbedBench
import CurioLua
import Foundation

let scale = CommandLine.arguments.dropFirst().first.flatMap(Double.init) ?? 1
func n(_ base: Int) -> Int { max(100, Int(Double(base) * scale)) }
/// EMBED_BENCH_ONLY=sync,async,call,refs: only those figures (for profiling).
let only = ProcessInfo.processInfo.environment["EMBED_BENCH_ONLY"].map { Set($0.split(separator: ",").map(String.init)) }
func wanted(_ name: String) -> Bool { only?.contains(name) ?? true }

/// EMBED_SPIN_US: the host's wake-up spin in µs (default: the configuration's).
let spinUs = ProcessInfo.processInfo.environment["EMBED_SPIN_US"].flatMap(Int.init)
var config = LuaHost.Configuration(name: "bench", libraries: .all)
if let spinUs { config.wakeupSpin = .microseconds(spinUs) }
let lua = try LuaHost(configuration: config)
try lua.register(module: "host", [
    .sync("add") { a in .integer(try a.int(1) &+ a.int(2)) },
    .async("nop") { _ in [] },
    .sync("take") { a in .boolean(a[1].functionValue != nil) },
])
try lua.register(module: "cmod", cFunction: "add", bench_c_add)
try lua.start()
try await lua.load("""
    local curio = require "curio"
    function sync_bench(n)
      local best_s, best_c = math.huge, math.huge
      for round = 1, 3 do
        local f, s = cmod.add, 0
        local t0 = os.clock()
        for i = 1, n do s = f(i, 1) end
        local t1 = os.clock()
        f = host.add
        for i = 1, n do s = f(i, 1) end
        local t2 = os.clock()
        best_c = math.min(best_c, t1 - t0)
        best_s = math.min(best_s, t2 - t1)
      end
      return best_s / n * 1e9, best_c / n * 1e9
    end
    function async_bench(n, conc)
      local nop = host.nop
      local t0 = curio.clock()
      local tasks = {}
      for k = 1, conc do
        tasks[k] = curio.spawn(function() for i = 1, n // conc do nop() end end)
      end
      for k = 1, conc do tasks[k]:join() end
      return n / (curio.clock() - t0)
    end
    function nop() end
    function keep_refs(n)
      for i = 1, n do host.take(function() return i end) end
    end
    """)

if wanted("sync") {
    let sync = try await lua.call("sync_bench", .integer(n(5_000_000)))
    let (s, c) = (sync[0].doubleValue!, sync[1].doubleValue!)
    print(String(format: "sync_call_ns %.1f ns %.1f", s, c))
}

/// The floor of an async round trip: a Swift task hands a request to another
/// thread and waits for its answer (what any cross-thread call costs).
final class Echo: @unchecked Sendable {
    let sem = DispatchSemaphore(value: 0)
    var pending: CheckedContinuation<Void, Never>?
    let lock = NSLock()
    init() {
        Thread.detachNewThread { [self] in
            while true {
                sem.wait()
                lock.lock(); let c = pending; pending = nil; lock.unlock()
                c?.resume()
            }
        }
    }
    func ping() async {
        await withCheckedContinuation { c in
            lock.lock(); pending = c; lock.unlock()
            sem.signal()
        }
    }
}
var hopRate = 0.0
if wanted("async") || wanted("call") {
    let echo = Echo()
    let hops = n(200_000)
    // Sequential loops run in a task of the global executor, as a server's would
    // (top-level code runs on the main actor: every await would hop twice more).
    hopRate = await Task.detached {
        let t0 = ContinuousClock.now
        for _ in 0..<hops { await echo.ping() }
        return Double(hops) / (ContinuousClock.now - t0).seconds
    }.value
}

if wanted("async") {
    let aseq = try await lua.call("async_bench", .integer(n(200_000)), 1)[0].doubleValue!
    let aconc = try await lua.call("async_bench", .integer(n(200_000)), 100)[0].doubleValue!
    print(String(format: "async_roundtrip_seq %.0f /s %.0f", aseq, hopRate))
    print(String(format: "async_roundtrip_100 %.0f /s %.0f", aconc, hopRate))
}

if wanted("call") {
    let calls = n(200_000)
    let callSeq = try await Task.detached {
        let t0 = ContinuousClock.now
        for _ in 0..<calls { _ = try await lua.call("nop") }
        return Double(calls) / (ContinuousClock.now - t0).seconds
    }.value
    let t0 = ContinuousClock.now
    try await withThrowingTaskGroup(of: Void.self) { g in
        for _ in 0..<100 { g.addTask { for _ in 0..<(calls / 100) { _ = try await lua.call("nop") } } }
        try await g.waitForAll()
    }
    let callConc = Double(calls / 100 * 100) / (ContinuousClock.now - t0).seconds
    print(String(format: "swift_call_seq %.0f /s %.0f", callSeq, hopRate))
    print(String(format: "swift_call_100 %.0f /s %.0f", callConc, hopRate))
}

if wanted("refs") {
    // Reference lifetimes: 1,000,000 calls each handing Swift a function reference
    // that Swift drops; the state's memory after a collection, against before.
    _ = try await lua.call("keep_refs", .integer(n(100_000)))
    let before = try await lua.collectGarbage()
    _ = try await lua.call("keep_refs", .integer(n(1_000_000)))
    let after = try await lua.collectGarbage()
    print("ref_growth_bytes \(after - before) B \(before)")
}
await lua.shutdown()

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

import Testing
import Foundation
@testable import CurioLua

/// Bounds an async test step: fails instead of hanging (even on a wait that
/// ignores cancellation: the body runs in a task of its own).
func within<T: Sendable>(_ seconds: Double = 20, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let once = Once<T>()
    return try await withCheckedThrowingContinuation { c in
        once.set(c)
        Task { do { once.resume(.success(try await body())) } catch { once.resume(.failure(error)) } }
        Task { try? await Task.sleep(for: .seconds(seconds)); once.resume(.failure(TimedOut())) }
    }
}

final class Once<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var c: CheckedContinuation<T, any Error>?
    func set(_ c: CheckedContinuation<T, any Error>) { lock.lock(); self.c = c; lock.unlock() }
    func resume(_ r: Result<T, any Error>) {
        lock.lock(); let c = self.c; self.c = nil; lock.unlock()
        c?.resume(with: r)
    }
}
struct TimedOut: Error {}

func startedHost(_ c: LuaHost.Configuration = .init(), _ fns: [String: [LuaHostFunction]] = [:]) throws -> LuaHost {
    let h = try LuaHost(configuration: c)
    for (m, f) in fns { try h.register(module: m, f) }
    try h.start()
    return h
}

@Suite struct EmbeddingBasics {
    @Test func loadAndCall() async throws {
        let lua = try startedHost()
        defer { Task { await lua.shutdown() } }
        try await within {
            try await lua.load("function greet(n) return 'hi ' .. n, #n end")
            let r = try await lua.call("greet", "you")
            #expect(r == ["hi you", 3])
        }
        await lua.shutdown()
    }

    @Test func valuesRoundTrip() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("function id(...) return ... end")
            let t: LuaValue = ["a", 2, 3.5, ["x": true]]
            let args: [LuaValue] = [nil, true, 42, 1.25, "str", t, .init(bytes: [0, 255, 10])]
            let r = try await lua.call("id", args)
            #expect(r == args)
        }
        await lua.shutdown()
    }
}

struct Boom: Error, CustomStringConvertible { var description: String { "boom from Swift" } }

/// Counts values across threads.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ d: Int = 1) { lock.lock(); n += d; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return n }
}

@Suite struct SwiftFunctions {
    static let counter = Counter()
    static func host(extra: [LuaHostFunction] = []) throws -> LuaHost {
        try startedHost(.init(), ["host": [
            .sync("add") { a in .integer(try a.int(1) + a.int(2)) },
            .syncMany("pair") { a in [a[1], a[2]] },
            .sync("fail") { _ in throw Boom() },
            .async("sleepy") { a in
                try await Task.sleep(for: .milliseconds(try a.int(1)))
                return ["slept", a[2]]
            },
            .async("forever") { _ in
                do { try await Task.sleep(for: .seconds(60)) } catch { counter.add(); throw error }
                return []
            },
            .async("afail") { _ in throw Boom() },
            .blocking("block") { a in
                usleep(useconds_t(try a.int(1)) * 1000)
                return [.string(LuaString("blocked"))]
            },
            .sync("name") { a in .string(LuaString(try a.string(1))) },
        ] + extra])
    }

    @Test func synchronous() async throws {
        let lua = try Self.host()
        try await within {
            try await lua.load("function f() local h = require 'host' return h.add(2, 40), host.pair('a', nil) end")
            #expect(try await lua.call("f") == [42, "a", nil])
        }
        await lua.shutdown()
    }

    @Test func argumentErrorsReadAsLauxlib() async throws {
        let lua = try Self.host()
        try await within {
            try await lua.load("""
                function f()
                  local ok, e = pcall(host.add, 1, "x")
                  local ok2, e2 = pcall(host.add, 1.5, 1)
                  local ok3, e3 = pcall(host.name)
                  return e, e2, e3
                end
                """, name: "=plugin")
            let r = try await lua.call("f")
            #expect(r[0].stringValue == "bad argument #2 to 'host.add' (number expected, got string)")
            #expect(r[1].stringValue == "bad argument #1 to 'host.add' (number has no integer representation)")
            #expect(r[2].stringValue == "bad argument #1 to 'host.name' (string expected, got no value)")
        }
        await lua.shutdown()
    }

    @Test func swiftErrorsAreCatchableCurioErrors() async throws {
        let lua = try Self.host()
        try await within {
            try await lua.load("""
                function f()
                  local ok, e = pcall(function() local x = host.fail() return x end)
                  local ok2, e2 = pcall(host.afail)
                  return ok, e.kind, tostring(e), e2.kind, e2.message
                end
                """, name: "=plugin")
            let r = try await lua.call("f")
            #expect(r[0] == false)
            #expect(r[1] == "SwiftError")
            #expect(r[2].stringValue == "SwiftError: plugin:2: boom from Swift")
            #expect(r[4].stringValue == "boom from Swift") // called through pcall: no Lua caller line
            #expect(r[3] == "SwiftError")
        }
        await lua.shutdown()
    }

    @Test func asyncAndBlockingSuspendOnlyTheirTask() async throws {
        let lua = try Self.host()
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function f()
                  local ticks = 0
                  local ticker = curio.spawn(function() while true do ticks = ticks + 1; curio.sleep(0.001) end end)
                  local a = curio.spawn(host.sleepy, 50, "x")
                  local b = curio.spawn(host.block, 50)
                  local r1, r2 = a:join()
                  local r3 = b:join()
                  ticker:cancel()
                  return r1, r2, r3, ticks > 5
                end
                """)
            #expect(try await lua.call("f") == ["slept", "x", "blocked", true])
        }
        await lua.shutdown()
    }

    @Test func cancellingTheLuaTaskCancelsTheSwiftTask() async throws {
        let lua = try Self.host()
        let before = Self.counter.value
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function f()
                  local t = curio.spawn(host.forever)
                  curio.sleep(0.02)
                  t:cancel()
                  return "cancelled"
                end
                """)
            #expect(try await lua.call("f") == ["cancelled"])
            while Self.counter.value == before { try await Task.sleep(for: .milliseconds(5)) }
        }
        await lua.shutdown()
    }

    @Test func suspendingOutsideATaskIsAnError() async throws {
        let lua = try Self.host()
        try await within {
            try await lua.load("""
                function f()
                  local ok, e = pcall(function()
                    table.sort({1, 2, 3}, function(a, b) host.sleepy(1) return a < b end)
                  end)
                  return tostring(e)
                end
                """)
            let r = try await lua.call("f")
            #expect(r[0].stringValue?.contains("NotInTask") == true, "\(r)")
        }
        await lua.shutdown()
    }
}

@Suite struct CallsFromSwift {
    @Test func luaErrorsCarryMessageAndTraceback() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("function bad() error('nope') end\nfunction bad2() error({code = 7}) end", name: "=plugin")
            do {
                _ = try await lua.call("bad")
                Issue.record("no error")
            } catch let e as LuaError {
                #expect(e.message == "plugin:1: nope")
                #expect(e.traceback.contains("stack traceback"))
                #expect(e.traceback.contains("plugin:1"))
                #expect(e.kind == nil)
            }
            do {
                _ = try await lua.call("bad2")
                Issue.record("no error")
            } catch let e as LuaError {
                #expect(e.value["code"] == 7)
            }
            await #expect(throws: LuaError.self) { try await lua.call("missing.fn") }
            await #expect(throws: LuaError.self) { try await lua.load("x = = 1") }
        }
        await lua.shutdown()
    }

    @Test func cancellingTheSwiftTaskCancelsTheLuaTask() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                cleaned = 0
                function wait() local ok, e = pcall(curio.sleep, 60); cleaned = cleaned + 1; error(e, 0) end
                function spin() while true do end end
                function get() return cleaned end
                """)
            for fn in ["wait", "spin"] {
                let t = Task { try await lua.call(fn) }
                try await Task.sleep(for: .milliseconds(30))
                t.cancel()
                await #expect(throws: CancellationError.self) { try await t.value }
            }
            #expect(try await lua.call("get") == [1])
        }
        await lua.shutdown()
    }

    @Test func functionReferencesStayValidAndCallable() async throws {
        let lua = try startedHost()
        try await within {
            let r = try await lua.load("local n = 0; return function(d) n = n + d; return n end")
            let f = try #require(r.first?.functionValue)
            #expect(try await f.call(2) == [2])
            #expect(try await f.call(3) == [5])
            // a function passed back to Lua is the same function
            try await lua.load("function apply(g, x) return g(x) end")
            #expect(try await lua.call("apply", .function(f), 10) == [15])
        }
        await lua.shutdown()
    }

    @Test func tablesRoundTripAsTheSameTableUntilModified() async throws {
        let lua = try startedHost(), other = try startedHost()
        try await within {
            try await lua.load("""
                local T = setmetatable({1, 2}, {__index = function() return "from mt" end})
                function get() return T end
                function check(x) return rawequal(x, T), x.anything, #x end
                """)
            let t = try await lua.call("get")[0]
            #expect(t == [1, 2])
            #expect(t.tableValue?.reference != nil)
            #expect(try await lua.call("check", t) == [true, "from mt", 2])
            var copy = t.tableValue!
            copy[.integer(3)] = 3
            #expect(copy.reference == nil)
            #expect(try await lua.call("check", .table(copy)) == [false, nil, 3])
            // another runtime gets a copy
            try await other.load("function len(x) return #x end")
            #expect(try await other.call("len", t) == [2])
        }
        await lua.shutdown()
        await other.shutdown()
    }

    @Test func aReferenceUsedAfterShutdownThrows() async throws {
        let lua = try startedHost()
        let f = try await within { try await lua.load("return print").first!.functionValue! }
        await lua.shutdown()
        await #expect(throws: LuaHostError.closed) { try await f.call() }
        await #expect(throws: LuaHostError.closed) { try await lua.call("print") }
    }

    @Test func aReferenceOfAnotherRuntimeIsRefused() async throws {
        let a = try startedHost(), b = try startedHost()
        try await within {
            let f = try await a.load("return function() end").first!
            try await b.load("function id(x) return x end")
            await #expect(throws: LuaHostError.foreignValue) { try await b.call("id", f) }
        }
        await a.shutdown()
        await b.shutdown()
    }

    @Test func manyConcurrentCalls() async throws {
        let lua = try startedHost()
        try await within(60) {
            try await lua.load("local curio = require 'curio'; function sq(x) curio.sleep(0.001) return x * x end")
            let sum = try await withThrowingTaskGroup(of: Int.self) { g in
                for i in 0..<500 { g.addTask { try await lua.call("sq", .integer(i))[0].intValue! } }
                return try await g.reduce(0, +)
            }
            #expect(sum == (0..<500).reduce(0) { $0 + $1 * $1 })
        }
        await lua.shutdown()
    }

    @Test func modulesFromPackagePath() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curio-embed-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "local M = {} function M.twice(x) return 2 * x end return M".write(to: dir.appendingPathComponent("mymod.lua"), atomically: true, encoding: .utf8)
        try "answer = 42".write(to: dir.appendingPathComponent("script.lua"), atomically: true, encoding: .utf8)
        let lua = try startedHost(.init(packagePath: dir.path + "/?.lua"))
        try await within {
            #expect(try await lua.call("mymod.twice", 21) == [42])
            #expect(try await lua.require("mymod")["twice"].functionValue != nil)
            try await lua.loadFile(dir.appendingPathComponent("script.lua").path)
            #expect(try await lua.load("return answer") == [42])
        }
        await lua.shutdown()
    }
}

@Suite struct Lifecycle {
    @Test func runsOnTheCallersThread() throws {
        let lua = try LuaHost(configuration: .init())
        try lua.register(module: "host", [.sync("twice") { a in .integer(try a.int(1) * 2) }])
        let r = try lua.run("""
            local curio = require 'curio'
            local t = curio.spawn(function() curio.sleep(0.01) return host.twice(21) end)
            return t:join(), "done"
            """)
        #expect(r == [42, "done"])
        #expect(throws: LuaHostError.closed) { try lua.start() }
    }

    @Test func severalRuntimesEachOnItsThread() async throws {
        let hosts = try (0..<4).map { i in try startedHost(.init(name: "rt\(i)")) }
        try await within {
            try await withThrowingTaskGroup(of: Void.self) { g in
                for (i, h) in hosts.enumerated() {
                    g.addTask {
                        try await h.load("id = \(i); function get() require('curio').sleep(0.01) return id end")
                        #expect(try await h.call("get") == [.integer(i)])
                    }
                }
                try await g.waitForAll()
            }
        }
        for h in hosts { await h.shutdown() }
    }

    @Test func shutdownCancelsTasksAndWaits() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function long() curio.sleep(60) end
                """)
            let pending = Task { try await lua.call("long") }
            try await Task.sleep(for: .milliseconds(20))
            await lua.shutdown()
            do { _ = try await pending.value; Issue.record("no error") } catch let e as LuaError {
                #expect(e.kind == "TaskCancelled")
            } catch let e as LuaHostError { #expect(e == .closed) }
        }
    }
}

@Suite struct Confinement {
    @Test func instructionBudgetStopsARunawayCallAndTheOthersGoOn() async throws {
        let lua = try startedHost(.init(instructionBudget: 2_000_000))
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function spin() while true do end end
                function stubborn() while true do pcall(function() while true do end end) end end
                function small(n) local s = 0 for i = 1, n do s = s + i end return s end
                """)
            async let ok = lua.call("small", 1000)
            for fn in ["spin", "stubborn"] {
                do { _ = try await lua.call(fn); Issue.record("no error") } catch let e as LuaError {
                    #expect(e.kind == "BudgetExceeded")
                    #expect(e.limit == .instructions)
                }
            }
            #expect(try await ok == [500500])
            // a per-call budget overrides the configuration
            await #expect(throws: LuaError.self) {
                try await lua.call("small", [100_000], options: .init(instructionBudget: 1000))
            }
            #expect(try await lua.call("small", [100_000]) == [5_000_050_000])
        }
        await lua.shutdown()
    }

    @Test func callTimeoutStopsSpinningAndBlockedCalls() async throws {
        let lua = try startedHost(.init(callTimeout: .milliseconds(100)))
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function spin() while true do end end
                function nap() curio.sleep(30) end
                function quick() return "quick" end
                """)
            for fn in ["spin", "nap"] {
                do { _ = try await lua.call(fn); Issue.record("no error") } catch let e as LuaError {
                    #expect(e.kind == "TaskTimeout")
                    #expect(e.limit == .time)
                }
            }
            #expect(try await lua.call("quick") == ["quick"])
        }
        await lua.shutdown()
    }

    @Test func aSpinningTaskDoesNotStopTheOthers() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("function spin() while true do end end\nfunction hello() return 'hello' end")
            let spinner = Task { try await lua.call("spin") }
            for _ in 0..<20 { #expect(try await lua.call("hello") == ["hello"]) }
            spinner.cancel()
            await #expect(throws: CancellationError.self) { try await spinner.value }
        }
        await lua.shutdown()
    }

    @Test func memoryLimitFailsTheHogOnly() async throws {
        let lua = try startedHost(.init(memoryLimit: 8 << 20))
        try await within {
            try await lua.load("""
                function hog() local t = {} for i = 1, 1e8 do t[i] = ('x'):rep(100) .. i end end
                function fine() return ('y'):rep(10) end
                """)
            do { _ = try await lua.call("hog"); Issue.record("no error") } catch let e as LuaError {
                #expect(e.limit == .memory, "\(e)")
            }
            #expect(try await lua.call("fine") == ["yyyyyyyyyy"])
        }
        await lua.shutdown()
    }

    @Test func pluginLibrariesByDefault() async throws {
        let lua = try startedHost()
        try await within {
            let r = try await lua.load("""
                local ok1 = pcall(require, 'curio.subprocess')
                local ok2 = pcall(require, 'curio.core')
                local bin = load(string.dump(function() end))
                return io == nil, debug == nil, package == nil, os.execute == nil, type(os.time),
                       ok1, ok2, bin == nil, loadfile == nil, type(require('curio').sleep),
                       type(string.format), _G == _ENV
                """)
            #expect(r == [true, true, true, true, "function", false, false, true, true, "function", "function", true])
        }
        await lua.shutdown()
    }

    @Test func allLibrariesWhenTrusted() async throws {
        let lua = try startedHost(.init(libraries: .all))
        try await within {
            let r = try await lua.load("return type(io.open), type(debug.traceback), type(os.execute)")
            #expect(r == ["function", "function", "function"])
        }
        await lua.shutdown()
    }
}

@Suite struct References {
    @Test func noLeakOverManyCallsAndReferences() async throws {
        let lua = try startedHost(.init(), ["host": [.sync("echo") { a in a[1] }]])
        try await within(120) {
            try await lua.load("""
                function make(i) return function() return i end, {i, tostring(i)} end
                function viaSwift(i) return host.echo({i}) end
                """)
            func round(_ n: Int) async throws {
                for i in 0..<n {
                    let r = try await lua.call("make", .integer(i))
                    #expect(try await r[0].functionValue!.call() == [.integer(i)])
                    _ = try await lua.call("viaSwift", .integer(i))
                }
            }
            try await round(3000)
            let base = try await lua.collectGarbage()
            try await round(10000)
            let after = try await lua.collectGarbage()
            #expect(after < base + 200_000, "memory grew from \(base) to \(after)")
        }
        await lua.shutdown()
    }
}

@Suite struct ManyReferences {
    @Test func referencesMadeByManySyncCallsAreReleased() async throws {
        // Each call hands Swift a new closure (a registry reference) that Swift drops.
        let lua = try startedHost(.init(), ["host": [.sync("take") { a in .boolean(a[1].functionValue != nil) }]])
        try await within(120) {
            try await lua.load("""
                function run(n)
                  local ok = 0
                  for i = 1, n do if host.take(function() return i end) then ok = ok + 1 end end
                  return ok
                end
                """)
            #expect(try await lua.call("run", 20_000) == [20_000])
            let base = try await lua.collectGarbage()
            #expect(try await lua.call("run", 200_000) == [200_000])
            let after = try await lua.collectGarbage()
            #expect(after < base + 100_000, "memory grew from \(base) to \(after)")
        }
        await lua.shutdown()
    }

    @Test func callsQueuedBeforeStartFailWhenTheHostNeverStarts() async throws {
        let lua = try LuaHost()
        let pending = Task { try await lua.call("print") }
        try await Task.sleep(for: .milliseconds(20))
        await lua.shutdown()
        await #expect(throws: LuaHostError.closed) { try await pending.value }
    }
}

@Suite struct Coding {
    struct Item: Codable, Equatable { var name: String; var tags: [String]; var size: Int; var ratio: Double?; var nested: [String: Int] }

    @Test func codableRoundTripThroughLua() async throws {
        let lua = try startedHost()
        let item = Item(name: "a", tags: ["x", "y"], size: 3, ratio: nil, nested: ["k": 1])
        try await within {
            try await lua.load("function grow(it) it.size = it.size + 1; it.ratio = 0.5; return it end")
            let r = try await lua.call("grow", try LuaEncoder().encode(item))
            let back = try LuaDecoder().decode(Item.self, from: r[0])
            #expect(back == Item(name: "a", tags: ["x", "y"], size: 4, ratio: 0.5, nested: ["k": 1]))
        }
        await lua.shutdown()
    }

    @Test func decodingRefusesInexactNumbers() throws {
        #expect(throws: DecodingError.self) { try LuaDecoder().decode(Int.self, from: 1.5) }
        #expect(throws: DecodingError.self) { try LuaDecoder().decode(Int8.self, from: 300) }
        #expect(throws: DecodingError.self) { try LuaDecoder().decode(Int.self, from: .number(.nan)) }
        #expect(try LuaDecoder().decode(Int.self, from: 2.0) == 2)
    }

    @Test func swiftConversions() {
        #expect(Int(luaValue: 3) == 3)
        #expect(String(luaValue: 3) == "3")
        #expect([Int](luaValue: [1, 2]) == [1, 2])
        #expect([String: Int](luaValue: ["a": 1]) == ["a": 1])
        #expect(Int?(luaValue: nil) == .some(nil))
        #expect(LuaValue([1, 2].map(\.luaValue)) == [1, 2])
        #expect(LuaValue(["a": .integer(1)])["a"] == 1)
        #expect(LuaValue.string(LuaString(bytes: [0xff])).stringValue == "\u{FFFD}")
        #expect(LuaValue(3.0).description == "3.0")
    }
}

import Logging

/// A log handler that keeps the messages.
final class CapturedLog: LogHandler, @unchecked Sendable {
    let box = Counter()
    private let lock = NSLock()
    private var messages: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        lock.lock(); messages.append("\(event.level) \(event.message)"); lock.unlock()
    }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return messages }
}

@Suite struct Diagnostics {
    @Test func crashReportsAndLimitsGoToTheLogger() async throws {
        let log = CapturedLog()
        let logger = Logger(label: "test") { _ in log }
        let lua = try startedHost(.init(instructionBudget: 100_000, logger: logger))
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function crash() curio.spawn(function() error('plugin bug') end) curio.sleep(0.01) end
                function spin() while true do end end
                """, name: "=plugin")
            _ = try await lua.call("crash")
            _ = try? await lua.call("spin")
        }
        await lua.shutdown()
        #expect(log.all.contains { $0.hasPrefix("error Task Crash") }, "\(log.all)")
        #expect(log.all.contains { $0.contains("plugin:2: plugin bug") }, "\(log.all)")
        #expect(log.all.contains { $0.contains("instruction budget exceeded") }, "\(log.all)")
    }
}

@Suite struct Documentation {
    @Test func readmeHelloPlugin() async throws {
        let lua = try LuaHost(configuration: .init(memoryLimit: 16 << 20, instructionBudget: 10_000_000))
        try lua.register(module: "host", [.sync("greeting") { _ in "hello" }])
        try lua.start()
        try await within {
            try await lua.load("function hi(name) return host.greeting() .. ', ' .. name end")
            #expect(try await lua.call("hi", "plugin") == ["hello, plugin"])
        }
        await lua.shutdown()
    }

    @Test func optionalAndDecodedArguments() async throws {
        struct Point: Decodable, Equatable { var x: Int; var y: Int }
        let lua = try LuaHost()
        try lua.register(module: "geo", [
            .sync("scale") { a in
                let p = try a.decode(Point.self, 1)
                let k = try a.optional(2, a.int) ?? 1
                return try LuaEncoder().encode(["x": p.x * k, "y": p.y * k])
            },
        ])
        try lua.start()
        try await within {
            try await lua.load("function f() return geo.scale({x = 1, y = 2}, 3), geo.scale({x = 1, y = 2}) end")
            let r = try await lua.call("f")
            #expect(r == [["x": 3, "y": 6], ["x": 1, "y": 2]])
            try await lua.load("function g() return pcall(geo.scale, {x = 'a'}) end")
            let e = try await lua.call("g")
            #expect(e[1].stringValue?.hasPrefix("bad argument #1 to 'geo.scale'") == true, "\(e)")
        }
        await lua.shutdown()
    }

    @Test func directArgumentsForTests() throws {
        let a = LuaArguments([1, "x"])
        #expect(try a.int(1) == 1)
        #expect(try a.string(2) == "x")
        #expect(throws: LuaArgumentError.self) { try a.bool(2) }
        #expect(a[3] == nil)
    }
}

@Suite struct Stubborn {
    @Test func shutdownEndsTasksThatCatchTheirCancellation() async throws {
        let lua = try startedHost()
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function stubborn() while true do pcall(curio.sleep, 10) end end
                function spinner() while true do pcall(function() while true do end end) end end
                """)
            let a = Task { try await lua.call("stubborn") }
            let b = Task { try await lua.call("spinner") }
            try await Task.sleep(for: .milliseconds(30))
            await lua.shutdown()
            _ = try? await a.value
            _ = try? await b.value
        }
    }

    @Test func aModuleThatLoopsAtLoadIsUnderTheCallsLimits() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("curio-embed-loop-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "while true do end".write(to: dir.appendingPathComponent("loops.lua"), atomically: true, encoding: .utf8)
        let lua = try startedHost(.init(instructionBudget: 1_000_000, packagePath: dir.path + "/?.lua"))
        try await within {
            do { _ = try await lua.call("loops.f"); Issue.record("no error") } catch let e as LuaError {
                #expect(e.limit == .instructions)
            }
        }
        await lua.shutdown()
    }
}

@Suite struct UniversalObjects {
    @Test func aUniversalQueueConnectsSwiftThreadsAndLuaTasks() async throws {
        let inbox = UniversalQueue(), outbox = UniversalQueue(), ready = UniversalEvent()
        let lua = try LuaHost()
        try lua.share(inbox, as: "inbox")
        try lua.share(outbox, as: "outbox")
        try lua.share(ready, as: "ready")
        try lua.start()
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function serve(n)
                  ready:set()
                  for i = 1, n do outbox:put(inbox:get() * 2) end
                  return "served"
                end
                """)
            let server = Task { try await lua.call("serve", 3) }
            // A plain Swift thread feeds the queue and blocks on the answers.
            let answers = try await withCheckedThrowingContinuation { (c: CheckedContinuation<[Int], any Error>) in
                Thread.detachNewThread {
                    do {
                        guard ready.wait(timeout: 10) else { throw TimedOut() }
                        var out: [Int] = []
                        for i in 1...3 {
                            _ = try inbox.put(.int(Int64(i)))
                            guard case .int(let v)? = try outbox.get(timeout: 10) else { throw TimedOut() }
                            out.append(Int(v))
                        }
                        c.resume(returning: out)
                    } catch { c.resume(throwing: error) }
                }
            }
            #expect(answers == [2, 4, 6])
            #expect(try await server.value == ["served"])
        }
        await lua.shutdown()
    }
}

import XCTest
import Foundation
import CLuaShim
@testable import CurioLua

/// The transfer codec, and Universal objects used from Swift threads.
final class WorkersTests: XCTestCase {
    /// Random values (nested, shared and cyclic tables, NaN, inf, -0.0, binary
    /// strings, integer extremes) survive encode + decode, 100,000 of them.
    func testCodecRoundTripsRandomValues() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local codec = require "curio.ccodec"
            math.randomseed(12345)
            local specials = { 0/0, math.huge, -math.huge, -0.0, math.maxinteger, math.mininteger,
              2^53, 0.1, -1, 0 }
            local function rstring()
              local n = math.random(0, 300)
              local b = {}
              for i = 1, n do b[i] = string.char(math.random(0, 255)) end
              return table.concat(b)
            end
            local gen
            local function rtable(depth, pool)
              local t = {}
              pool[#pool + 1] = t
              for i = 1, math.random(0, 5) do t[i] = gen(depth + 1, pool) end
              for _ = 1, math.random(0, 4) do
                local k = gen(depth + 1, pool)
                if k ~= nil and k == k then t[k] = gen(depth + 1, pool) end
              end
              if math.random() < 0.2 then t.cycle = pool[math.random(#pool)] end
              return t
            end
            function gen(depth, pool)
              local r = math.random(1, depth > 3 and 7 or 8)
              if r == 1 then return nil
              elseif r == 2 then return math.random() < 0.5
              elseif r == 3 then return math.random(math.mininteger, math.maxinteger)
              elseif r == 4 then return specials[math.random(#specials)]
              elseif r == 5 then return math.random() * 1e6
              elseif r == 6 then return rstring()
              elseif r == 7 then return #pool > 0 and pool[math.random(#pool)] or 1
              else return rtable(depth, pool) end
            end
            -- equal up to renaming of tables, mapping a's tables to b's one to one
            local function same(a, b, seen)
              if type(a) ~= type(b) then return false end
              if type(a) == "number" then
                if a ~= a then return b ~= b end
                return math.type(a) == math.type(b) and a == b and 1/a == 1/b
              end
              if type(a) ~= "table" then return a == b end
              if seen[a] then return seen[a] == b end
              seen[a] = b
              local n = 0
              for k, v in pairs(a) do
                n = n + 1
                local kb = k
                if type(k) == "table" then
                  kb = seen[k]
                  if kb == nil then return "table keys" end
                end
                if not same(v, b[kb], seen) then return false end
              end
              for _ in pairs(b) do n = n - 1 end
              return n == 0
            end
            local count = 0
            while count < 100000 do
              local pool = {}
              local vals, n = {}, math.random(1, 4)
              for i = 1, n do vals[i] = gen(1, pool) end
              local s = assert(codec.dumps(table.unpack(vals, 1, n)))
              local back = table.pack(codec.loads(s))
              local seen = {}
              for i = 1, n do
                local r = same(vals[i], back[i], seen)
                if r == false then error("value " .. count .. " differs") end
              end
              count = count + n
            end
            return count
            """)
        XCTAssertGreaterThanOrEqual(Int(out) ?? 0, 100_000)
    }

    func testCodecKeepsSharedAndCyclicTablesAndReportsLimits() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local codec = require "curio.ccodec"
            local shared = { 1 }
            local t = { a = shared, b = shared }
            t.me = t
            local u = codec.loads(codec.dumps(t))
            assert(u.a == u.b and u.me == u and u.a ~= shared)
            local deep = {}
            local cur = deep
            for _ = 1, codec.MAXDEPTH do cur.x = {}; cur = cur.x end
            local ok, err = codec.dumps(deep)
            assert(ok == nil and err:find("nested more than 200 deep"), err)
            local _, e2 = codec.dumps(1, { f = function() end })
            assert(e2 == "value #2 field 'f': function", e2)
            local huge = string.rep("x", 600 * 1024 * 1024)
            local _, e3 = codec.dumps(huge, huge)
            assert(e3:find("message too large"), e3)
            return "ok"
            """)
        XCTAssertEqual(out, "ok")
    }

    /// Arbitrary and mutated bytes never crash the decoder: values or a clean error.
    func testDecoderSurvivesGarbage() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local codec = require "curio.ccodec"
            math.randomseed(7)
            local good = codec.dumps({ 1, 2.5, "str", { x = { y = true } }, [10] = "ten" }, "tail")
            local errors = 0
            for i = 1, 100000 do
              local s
              if i % 2 == 0 then
                local b = { good:byte(1, -1) }
                for _ = 1, math.random(1, 4) do b[math.random(#b)] = math.random(0, 255) end
                if math.random() < 0.3 then for _ = 1, math.random(1, 5) do table.remove(b) end end
                s = string.char(table.unpack(b))
              else
                local b = {}
                for j = 1, math.random(0, 40) do b[j] = math.random(0, 255) end
                s = string.char(table.unpack(b))
              end
              local ok, e = pcall(codec.loads, s)
              if not ok then
                assert(tostring(e):find("corrupt message") or tostring(e):find("not enough memory"), e)
                errors = errors + 1
              end
            end
            return errors
            """)
        XCTAssertGreaterThan(Int(out) ?? 0, 1000)
    }

    /// Swift's encoder and decoder agree with each other on random values.
    func testSwiftCodecRoundTrip() throws {
        var rng = SystemRandomNumberGenerator()
        func gen(_ depth: Int) -> TransferValue {
            switch Int.random(in: 0..<(depth > 3 ? 6 : 7), using: &rng) {
            case 0: return .nil
            case 1: return .bool(Bool.random())
            case 2: return .int(Int64.random(in: .min ... .max))
            case 3: return .double([Double.nan, .infinity, -0.0, 1.5, Double.random(in: -1e9...1e9)].randomElement()!)
            case 4: return .string((0..<Int.random(in: 0...300)).map { _ in UInt8.random(in: 0...255) })
            case 5: return .text("κλειδί")
            default:
                let arr = (0..<Int.random(in: 0...4)).map { _ in gen(depth + 1) }
                let pairs = (0..<Int.random(in: 0...3)).map { i in TransferPair(.text("k\(i)"), gen(depth + 1)) }
                return .table(array: arr, pairs: pairs)
            }
        }
        for _ in 0..<100_000 {
            let v = gen(0)
            let m = try encodeMessage(v)
            defer { cl_msg_free(m) }
            XCTAssertEqual(try decodeMessage(m), v)
        }
    }

    /// Swift threads, Lua tasks and Lua worker threads share one queue and event.
    func testUniversalObjectsFromSwiftThreads() throws {
        let rt = try LuaRuntime()
        let toLua = UniversalQueue(maxsize: 8)
        let fromLua = UniversalQueue()
        let started = UniversalEvent()
        try rt.setGlobal("to_lua", toLua)
        try rt.setGlobal("from_lua", fromLua)
        try rt.setGlobal("started", started)
        let producers = 4, perProducer = 250
        let producing = DispatchGroup()
        for p in 0..<producers {
            DispatchQueue.global().async(group: producing) {
                XCTAssertTrue(started.wait(timeout: 30))
                for i in 0..<perProducer {
                    let item = TransferValue.table(array: [.int(Int64(p)), .int(Int64(i))], pairs: [])
                    XCTAssertEqual(try? toLua.put(item, timeout: 30), true)
                }
            }
        }
        let done = DispatchGroup()
        DispatchQueue.global().async(group: done) {
            _ = producing.wait(timeout: .now() + 60)
            for _ in 0..<3 { _ = try? toLua.put(.text("stop"), timeout: 30) }
        }
        let sum = UniversalQueue()
        DispatchQueue.global().async(group: done) {
            var total: Int64 = 0
            for _ in 0..<(producers * perProducer) {
                guard case .int(let v)? = try? fromLua.get(timeout: 30) else { XCTFail("no item"); return }
                total += v
            }
            _ = try? sum.put(.int(total))
        }
        let out = try rt.run("""
            local curio = require "curio"
            -- consumers: two tasks and one worker thread, each forwarding to Swift
            local function consume(to_lua, from_lua)
              local last, n = {}, 0
              while true do
                local item = to_lua:get()
                if item == "stop" then return n end
                local p, i = item[1], item[2]
                assert(last[p] == nil or i > last[p], "FIFO per producer")
                last[p] = i
                from_lua:put(i)
                n = n + 1
              end
            end
            local a = curio.spawn(consume, to_lua, from_lua)
            local b = curio.spawn(consume, to_lua, from_lua)
            local w = curio.spawn(curio.run_in_thread, consume, to_lua, from_lua)
            started:set()
            local n = 0
            for _, t in ipairs { a, b, w } do n = n + curio.timeout_after(60, t.join, t) end
            return n
            """)
        XCTAssertEqual(out, "\(producers * perProducer)")
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        let expected = Int64(producers) * Int64((0..<perProducer).reduce(0, +))
        XCTAssertEqual(try sum.get(timeout: 5), .int(expected))
    }

    /// A task waiting on a Universal event is woken by a Swift thread (no polling).
    func testSwiftThreadWakesAWaitingTask() throws {
        let rt = try LuaRuntime()
        let ev = UniversalEvent()
        try rt.setGlobal("ev", ev)
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.05) { ev.set() }
        XCTAssertEqual(try rt.run("""
            local curio = require "curio"
            curio.timeout_after(30, ev.wait, ev)
            return ev:is_set()
            """), "true")
    }

    /// A table shared inside a value arrives in Swift as equal copies.
    /// Lua sends a repeated short string once and refers back to it (tags 12, 13),
    /// a long one each time: Swift decodes every copy.
    func testRepeatedStringsFromLuaToSwift() throws {
        let rt = try LuaRuntime()
        let q = UniversalQueue()
        try rt.setGlobal("q", q)
        try rt.run("""
            local long = string.rep("L", 300)
            q:put({ { name = "x", tag = long }, { name = "x", tag = long }, "name" })
            """)
        guard case .table(let array, _)? = try q.get(timeout: 5) else { return XCTFail("no table") }
        XCTAssertEqual(array.count, 3)
        let long = TransferValue.string(Array(repeating: UInt8(ascii: "L"), count: 300))
        for record in array.prefix(2) {
            guard case .table(_, let pairs) = record else { return XCTFail("no record") }
            XCTAssertEqual(pairs.count, 2)
            for p in pairs {
                if p.key == .text("name") {
                    XCTAssertEqual(p.value, .text("x"))
                } else {
                    XCTAssertEqual(p.key, .text("tag"))
                    XCTAssertEqual(p.value, long)
                }
            }
        }
        XCTAssertEqual(array[2], .text("name"))
    }

    func testSharedTableFromLuaToSwift() throws {
        let rt = try LuaRuntime()
        let q = UniversalQueue()
        try rt.setGlobal("q", q)
        try rt.run("local s = { 1, 'x' } q:put({ a = s, b = s })")
        guard case .table(_, let pairs)? = try q.get(timeout: 5) else { return XCTFail("no table") }
        XCTAssertEqual(pairs.count, 2)
        XCTAssertEqual(pairs[0].value, pairs[1].value)
        XCTAssertEqual(pairs[0].value, .table(array: [.int(1), .text("x")], pairs: []))
    }

    /// A Swift function registered as blocking runs on the thread pool while the
    /// calling task waits and the others run; its errors raise WorkerError.
    func testBlockingHostFunctions() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom from Swift" } }
        let rt = try LuaRuntime()
        rt.registerBlocking("sum") { args in
            usleep(50_000) // blocking work: the kernel thread stays free
            var total: Int64 = 0
            for case .int(let i) in args { total += i }
            return [.int(total), .text("done")]
        }
        rt.registerBlocking("fail") { _ in throw Boom() }
        rt.registerBlocking("slow") { _ in usleep(300_000); return [.text("late")] }
        let out = try rt.run("""
            local curio = require "curio"
            local ticks = 0
            local ticker = curio.spawn(function() while true do curio.sleep(0.005) ticks = ticks + 1 end end)
            local total, word = curio.workers.host.sum(1, 2, 39)
            ticker:cancel()
            assert(ticks > 0, "other tasks ran meanwhile")
            local ok, e = pcall(curio.workers.call_host, "fail")
            assert(not ok and e.kind == "WorkerError" and e.message == "boom from Swift", tostring(e))
            local ok2, e2 = pcall(curio.workers.call_host, "missing")
            assert(not ok2 and tostring(e2):find("no host function 'missing'"), tostring(e2))
            local ok3, e3 = pcall(curio.workers.call_host, "sum", print)
            assert(not ok3 and e3.kind == "TransferError" and e3.message == "argument #2: function", tostring(e3))
            -- a timeout releases the task at once; the closure's result is dropped
            local t0 = curio.clock()
            local ok4, e4 = pcall(curio.timeout_after, 0.02, curio.workers.host.slow)
            assert(not ok4 and e4.kind == "TaskTimeout", tostring(e4))
            assert(curio.clock() - t0 < 0.3, "released before the closure finished")
            return total .. " " .. word
            """)
        XCTAssertEqual(out, "42 done")
    }
}

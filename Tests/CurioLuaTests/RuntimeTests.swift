import XCTest
@testable import CurioLua

final class RuntimeTests: XCTestCase {
    func testRunsAScriptAsAMainTask() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local curio = require "curio"
            local t = curio.spawn(function(x) curio.sleep(0.01) return x * 2 end, 21)
            return t:join()
            """)
        XCTAssertEqual(out, "42")
    }

    func testEachRunGetsAFreshKernel() throws {
        let rt = try LuaRuntime()
        XCTAssertEqual(try rt.run("return require('curio').current_task().id"), "1")
        XCTAssertEqual(try rt.run("return require('curio').current_task().id"), "1")
        XCTAssertNil(rt.kernel, "the kernel is dropped when the run ends")
    }

    func testErrorsComeBackAsSwiftErrors() throws {
        let rt = try LuaRuntime()
        XCTAssertThrowsError(try rt.run("error('bad thing')", name: "=plugin")) { e in
            XCTAssertEqual((e as? LuaRuntime.ScriptError)?.message, "plugin:1: bad thing")
        }
        XCTAssertThrowsError(try rt.run("x = = 1", name: "=plugin")) { e in
            XCTAssertTrue("\(e)".contains("plugin:1:"))
        }
    }

    func testTimeoutsAndCancellationWorkFromAnEmbedding() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local curio = require "curio"
            local ok, e = pcall(curio.timeout_after, 0.01, curio.sleep, 5)
            return e.kind
            """)
        XCTAssertEqual(out, "TaskTimeout")
    }

    func testBlockingOutsideATaskIsNotInTask() throws {
        let rt = try LuaRuntime()
        // callModule runs outside any kernel: a blocking call must fail cleanly.
        let (_, err) = rt.callModule("curio", "schedule", [])
        XCTAssertEqual(err, "NotInTask: must be called inside a curio task")
    }

    func testSeveralRuntimesOnSeveralThreads() throws {
        let group = DispatchGroup()
        let results = ResultsBox()
        for i in 0..<4 {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                guard let rt = try? LuaRuntime() else { return }
                let r = try? rt.run("local c = require 'curio'; c.sleep(0.02); return \(i)")
                results.append(r ?? "fail")
            }
        }
        group.wait()
        XCTAssertEqual(results.values.sorted(), ["0", "1", "2", "3"])
    }
}

final class ResultsBox: @unchecked Sendable {
    private let lock = NSLock()
    private var v: [String] = []
    func append(_ s: String) { lock.lock(); v.append(s); lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return v }
}

final class MemoryLimitTests: XCTestCase {
    func testAScriptPastTheLimitFailsCleanlyAndTheRuntimeGoesOn() throws {
        let rt = try LuaRuntime()
        _ = try rt.run("return require('curio') and 1") // load the library first
        rt.memoryLimit = rt.memoryInUse + 2_000_000
        XCTAssertThrowsError(try rt.run("""
            local curio = require "curio"
            local t = {}
            for i = 1, 10000000 do t[i] = tostring(i) end
            """)) { e in
            XCTAssertTrue("\(e)".contains("not enough memory"), "\(e)")
        }
        // other tasks were unaffected and the state still works
        let out = try rt.run("""
            local curio = require "curio"
            local hog = curio.spawn(function() local t = {} for i = 1, 1e7 do t[i] = {} end end)
            hog._quiet = true
            local ok = curio.spawn(function() curio.sleep(0.001) return "alive" end)
            hog:wait()
            return ok:join() .. " " .. tostring(hog:exception()):match("not enough memory")
            """)
        XCTAssertEqual(out, "alive not enough memory")
        rt.memoryLimit = nil
        XCTAssertEqual(try rt.run("return 1 + 1"), "2")
    }

    func testTasksThatCannotStartForLackOfMemoryFailCleanly() throws {
        let rt = try LuaRuntime()
        _ = try rt.run("return require('curio') and 1")
        // Spawn until memory runs out; a spawned task's coroutine is made when it
        // first runs, so most of them then cannot start: each must end with the
        // memory error (or run, once others freed memory), nothing may hang.
        rt.memoryLimit = rt.memoryInUse + 500_000
        let out = try rt.run("""
            local curio = require "curio"
            local tasks, spawned = {}, 0
            local reserve = string.rep("x", 100000) -- room for this task to go on after
            local ok = pcall(function()
              for i = 1, 1000000 do
                tasks[i] = curio.spawn(function() return i end)
                spawned = i
              end
            end)
            reserve = nil
            collectgarbage()
            local ended, unrecorded = 0, 0
            for i = 1, spawned do
              tasks[i]:wait()
              ended = ended + 1
              local ok, e = pcall(tasks[i].result, tasks[i])
              if not ok and tostring(e):find("could not be recorded", 1, true) then
                unrecorded = unrecorded + 1
              end
            end
            assert(unrecorded > 0, "some tasks should have failed to start")
            tasks = nil
            collectgarbage()
            return tostring(ok) .. " " .. tostring(spawned > 100 and ended == spawned)
            """)
        XCTAssertEqual(out, "false true")
        rt.memoryLimit = nil
        XCTAssertEqual(try rt.run("return 1 + 1"), "2")
    }
}

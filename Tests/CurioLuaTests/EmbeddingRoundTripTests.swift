import Testing
import Foundation
@testable import CurioLua

/// The name of the calling thread.
func threadName() -> String {
    ((try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "")
        .trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The names of the process's threads.
func threadNames() -> [String] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// CPU seconds the calling thread has used.
func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Round trips between Swift and the kernel thread (docs/embedding.md,
/// "Performance"): where async functions run, and that the threads waiting for
/// each other spin only while an answer is likely.
@Suite struct RoundTrips {
    @Test func asyncFunctionsRunOnTheRuntimesExecutorThread() async throws {
        let lua = try startedHost(.init(name: "rt-exec"), ["host": [
            .sync("kernel") { _ in .string(LuaString(threadName())) },
            .async("where") { _ in
                let before = threadName()
                try await Task.sleep(for: .milliseconds(1)) // back on the same executor
                return [.string(LuaString(before)), .string(LuaString(threadName()))]
            },
        ]])
        try await within {
            try await lua.load("""
                local curio = require 'curio'
                function f()
                  local a, b = host.where()
                  return host.kernel(), a, b
                end
                """)
            #expect(try await lua.call("f") == ["rt-exec", "rt-exec-async", "rt-exec-async"])
        }
        await lua.shutdown()
    }

    @Test func theExecutorThreadEndsAfterShutdown() async throws {
        let lua = try startedHost(.init(name: "rt-end"), ["host": [.async("nop") { _ in [] }]])
        try await within {
            try await lua.load("function f() for i = 1, 10 do host.nop() end return true end")
            #expect(try await lua.call("f") == [true])
            #expect(threadNames().contains("rt-end-async"))
            await lua.shutdown()
            while threadNames().contains(where: { $0 == "rt-end-async" || $0 == "rt-end" }) {
                try await Task.sleep(for: .milliseconds(10))
            }
        }
    }

    /// After busy round trips both ways, an idle runtime (one Lua task waiting for
    /// an async Swift function that takes long, so a result is outstanding) uses
    /// no CPU: its threads spin at most once after the last request, then sleep.
    @Test func anIdleRuntimeUsesNoCPU() async throws {
        let lua = try startedHost(.init(name: "rt-idle", wakeupSpin: .milliseconds(20)), ["host": [
            .async("nop") { _ in [] },
            .async("cpu") { _ in [.number(threadCPUSeconds())] },
            .async("slow") { _ in try await Task.sleep(for: .seconds(30)); return [] },
        ]])
        try await within(60) {
            try await lua.load("""
                local curio = require 'curio'
                function busy() for i = 1, 500 do host.nop() end end
                function nop() end
                function park() waiter = curio.spawn(host.slow) end
                function executor_cpu() return host.cpu() end
                """)
            _ = try await lua.call("busy")
            for _ in 0..<500 { _ = try await lua.call("nop") }
            _ = try await lua.call("park")
            let k0 = try await lua.perform { _ in threadCPUSeconds() }
            let x0 = try await lua.call("executor_cpu")[0].doubleValue!
            try await Task.sleep(for: .seconds(1.5))
            let k1 = try await lua.perform { _ in threadCPUSeconds() }
            let x1 = try await lua.call("executor_cpu")[0].doubleValue!
            // A thread spinning through the idle 1.5 s would use most of it, even
            // on a loaded machine; an idle one uses a spin's 20 ms at most.
            #expect(k1 - k0 < 0.15, "kernel thread busy while idle: \(k1 - k0) s")
            #expect(x1 - x0 < 0.15, "executor thread busy while idle: \(x1 - x0) s")
        }
        await lua.shutdown()
    }

    /// One caller, then many: the lone caller spins for its results (CallSlot),
    /// the others suspend; every call gets its own result either way.
    @Test func loneAndConcurrentCallersGetTheirOwnResults() async throws {
        let lua = try startedHost(.init(name: "rt-calls"))
        try await within(60) {
            try await lua.load("function echo(x) return x * 2 end")
            for i in 0..<300 { #expect(try await lua.call("echo", .integer(i)) == [.integer(2 * i)]) }
            try await withThrowingTaskGroup(of: Void.self) { g in
                for t in 0..<20 {
                    g.addTask {
                        for i in 0..<50 {
                            let v = t * 1000 + i
                            let r = try await lua.call("echo", .integer(v))
                            #expect(r == [.integer(2 * v)])
                        }
                    }
                }
                try await g.waitForAll()
            }
        }
        await lua.shutdown()
    }
}

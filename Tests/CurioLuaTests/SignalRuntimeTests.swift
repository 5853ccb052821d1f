import XCTest
import Glibc
@testable import CurioLua

/// curio.signal and curio.subprocess as an embedding sees them: watches end with
/// the run that made them, and children never outlive their reaping.
final class SignalRuntimeTests: XCTestCase {
    /// Whether `sig` has a handler installed (not SIG_DFL / SIG_IGN).
    private func caught(_ sig: Int32) -> Bool {
        var old = sigaction()
        sigaction(sig, nil, &old)
        let h = unsafeBitCast(old.__sigaction_handler.sa_handler, to: Int.self)
        return h != 0 && h != 1
    }

    func testQueueGetsSignalsRaisedDuringTheRun() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local curio = require "curio"
            local signal = require "curio.signal"
            local q <close> = curio.SignalQueue(signal.SIGUSR1)
            signal.raise_signal(signal.SIGUSR1)
            signal.raise_signal(signal.SIGUSR1)
            return q:get() + q:get()
            """)
        XCTAssertEqual(out, "20")
        XCTAssertFalse(caught(SIGUSR1), "closing restored the default disposition")
    }

    func testAQueueLeftOpenIsClosedWhenTheRunEnds() throws {
        let rt = try LuaRuntime()
        _ = try rt.run("""
            local curio = require "curio"
            leftover = curio.SignalQueue(require("curio.signal").SIGUSR2)
            return 1
            """)
        XCTAssertFalse(caught(SIGUSR2), "the run's end restored the disposition")
        let out = try rt.run("""
            local curio = require "curio"
            local ok, e = pcall(leftover.get, leftover)
            local q <close> = curio.SignalQueue(require("curio.signal").SIGUSR2)
            leftover:close() -- stale: must not close the new watch
            require("curio.signal").raise_signal("SIGUSR2")
            return tostring(e) .. " / " .. q:get()
            """)
        XCTAssertEqual(out, "CurioError: get: the SignalQueue is closed / 12")
        XCTAssertFalse(caught(SIGUSR2))
    }

    func testSigintGoesToAQueueInAnEmbeddingThatHandlesInterrupts() throws {
        let rt = try LuaRuntime()
        rt.handlesInterrupt = true
        let out = try rt.run("""
            local curio = require "curio"
            local signal = require "curio.signal"
            local q <close> = curio.SignalQueue(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)
            return q:get()
            """)
        XCTAssertEqual(out, "2")
        XCTAssertFalse(caught(SIGINT), "the runtime's own SIGINT watch ended with the run")
    }

    func testSigintQueueInAnEmbeddingThatLeavesSigintAlone() throws {
        let rt = try LuaRuntime() // handlesInterrupt = false: SIGINT is not the runtime's
        let out = try rt.run("""
            local curio = require "curio"
            local signal = require "curio.signal"
            local q <close> = curio.SignalQueue("INT")
            signal.raise_signal("SIGINT")
            return q:get()
            """)
        XCTAssertEqual(out, "2")
        XCTAssertFalse(caught(SIGINT), "closing the queue restored the default")
    }

    func testChildrenAreReapedAndWaitedForWithoutPolling() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local sp = require "curio.subprocess"
            local p = sp.Popen({"sh", "-c", "exit 3"})
            local rc = p:wait()
            local r = sp.run({"cat"}, {input = "abc", capture_output = true})
            return rc .. " " .. r.stdout
            """)
        XCTAssertEqual(out, "3 abc")
        var status: Int32 = 0
        XCTAssertEqual(waitpid(-1, &status, WNOHANG), -1, "no child left")
        XCTAssertEqual(errno, ECHILD)
    }
}

import XCTest
import CSys
@testable import CurioLua

/// The VIRTUAL_CLOCK kernel call: it applies to the runtime's next kernels, and
/// curio.clock() reports the virtual time.
final class VirtualClockRuntimeTests: XCTestCase {
    func testAnHourOfSleepIsInstantOnTheVirtualClock() throws {
        let rt = try LuaRuntime()
        let wall = csys_monotonic()
        let out = try rt.run("""
            local curio, K = require "curio", require "curio.kernel"
            local was = K.kcall(K.K.VIRTUAL_CLOCK, true)
            local slept = curio.run(function()
              local t0 = curio.clock()
              curio.sleep(3600)
              return curio.clock() - t0
            end)
            K.kcall(K.K.VIRTUAL_CLOCK, false)
            return tostring(was) .. " " .. math.floor(slept + 0.5)
            """)
        XCTAssertEqual(out, "false 3600")
        XCTAssertLessThan(csys_monotonic() - wall, 60)
    }

    func testOffAgainTheClockIsReal() throws {
        let rt = try LuaRuntime()
        let out = try rt.run("""
            local curio = require "curio"
            return curio.run(function()
              local t0 = curio.clock()
              curio.sleep(0.02)
              return curio.clock() - t0 < 5
            end)
            """)
        XCTAssertEqual(out, "true")
    }
}

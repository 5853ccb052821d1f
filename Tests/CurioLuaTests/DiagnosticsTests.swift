import XCTest
@testable import CurioLua

final class DiagnosticsTests: XCTestCase {
    func testDiagnosticsGoToTheHostsLogger() throws {
        let rt = try LuaRuntime()
        var lines: [String] = []
        rt.diagnosticLog = { lines.append($0) }
        try rt.setDebug("schedtrace,traptrace")
        try rt.run("""
            local curio = require "curio"
            local t = curio.spawn(function() curio.sleep(0) end)
            t.name = "hop"
            t:join()
            curio.spawn(function() error("boom") end):wait()
            """, name: "=plugin")
        XCTAssertTrue(lines.contains("curio: trap task 2 (hop) sleep(0)"), "\(lines)")
        XCTAssertTrue(lines.contains("curio: resume task 2 (hop)"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("curio: trap task 1 (") && $0.hasSuffix(") join(task 2)") })
        // The crash report arrives a line at a time.
        let crash = lines.firstIndex { $0.hasPrefix("Task Crash: ") }
        XCTAssertNotNil(crash)
        if let crash { XCTAssertEqual(lines[crash + 1], "plugin:5: boom") }
        XCTAssertFalse(lines.contains { $0.contains("\n") })

        lines.removeAll()
        try rt.setDebug("")
        try rt.run("require('curio').sleep(0)")
        XCTAssertEqual(lines, [], "off again")
        XCTAssertThrowsError(try rt.setDebug("bogus"))
    }
}

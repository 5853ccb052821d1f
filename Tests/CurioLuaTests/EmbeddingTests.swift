import Testing
import Foundation
@testable import CurioLua

/// Bounds an async test step: fails instead of hanging.
func within<T: Sendable>(_ seconds: Double = 20, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { g in
        g.addTask { try await body() }
        g.addTask { try await Task.sleep(for: .seconds(seconds)); return nil }
        guard let r = try await g.next()!, let v = r as T? else {
            g.cancelAll()
            throw TimedOut()
        }
        g.cancelAll()
        return v
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

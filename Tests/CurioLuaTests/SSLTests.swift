import Foundation
import XCTest
@testable import CurioLua

/// curio.ssl from an embedding: OpenSSL is linked into the library, and runtimes
/// on several threads each drive their own TLS connections (OpenSSL's error queue
/// and curio.cssl's receive buffer are per thread).
final class SSLTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("lua/fixtures/ssl").path

    static func script(rounds: Int) -> String {
        """
        local curio = require "curio"
        local ssl = require "curio.ssl"
        local socket = require "curio.socket"
        local F = "\(fixtures)/"
        local sctx = ssl.context { server = true, certfile = F .. "server.pem", keyfile = F .. "server.key" }
        local cctx = ssl.context { cafile = F .. "ca.pem" }
        local version
        for i = 1, \(rounds) do
          local a, b = socket.socketpair()
          local srv = curio.spawn(function()
            local s <close> = sctx:wrap_socket(a, { server_side = true })
            s:sendall(s:recv(100))
          end)
          local c <close> = cctx:wrap_socket(b, { server_hostname = "localhost" })
          c:sendall("ping" .. i)
          assert(c:recv(100) == "ping" .. i)
          srv:join()
          version = c:version()
        end
        local ok, e = pcall(ssl.context, { cafile = F .. "missing.pem" })
        return version .. " " .. e.kind
        """
    }

    func testTLSEchoFromAnEmbedding() throws {
        let rt = try LuaRuntime()
        XCTAssertEqual(try rt.run(Self.script(rounds: 3)), "TLSv1.3 SSLError")
    }

    func testRuntimesOnSeveralThreads() throws {
        let results = Results()
        let group = DispatchGroup()
        for i in 0..<3 {
            group.enter()
            Thread {
                defer { group.leave() }
                let out = (try? LuaRuntime().run(Self.script(rounds: 5))) ?? "failed"
                results.set(i, out)
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(results.all(), Array(repeating: "TLSv1.3 SSLError", count: 3))
    }
}

private final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [Int: String] = [:]
    func set(_ i: Int, _ v: String) { lock.lock(); values[i] = v; lock.unlock() }
    func all() -> [String] { lock.lock(); defer { lock.unlock() }; return values.keys.sorted().map { values[$0]! } }
}

// swift-host: loads every plugin script of a folder, each into a runtime of its
// own (own thread, own limits), gives them a host API, and calls their handlers
// concurrently. Misbehaving plugins (an endless loop, a memory hog, a bug) are
// stopped by their limits and reported, while the others keep working.
//
//   swift run SwiftHost [plugins-folder]
import CurioLua
import Foundation

/// The API every plugin sees as the module (and global) `host`.
let hostAPI: [LuaHostFunction] = [
    // Synchronous: runs on the runtime's kernel thread; must be quick.
    .sync("log") { args in
        print("  [plugin log] \(try args.string(1))")
        return .nil
    },
    // Async: the calling Lua task waits, the runtime keeps running other tasks.
    .async("fetch") { args in
        let key = try args.string(1)
        try await Task.sleep(for: .milliseconds(20)) // a pretend network lookup
        return [.string(LuaString(key.hasPrefix("temp") ? "21C" : "light breeze"))]
    },
    // Blocking: runs on the runtime's thread pool.
    .blocking("checksum") { args in
        let bytes = try args.bytes(1)
        return [.integer(bytes.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xffff })]
    },
]

let folder = CommandLine.arguments.dropFirst().first
    ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../plugins").standardized.path
let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".lua") }.sorted()

// A queue every plugin may put notices into (process-wide: shared by all runtimes);
// Swift threads read it with blocking calls, Lua tasks without blocking the kernel.
let notices = UniversalQueue()

var plugins: [(name: String, lua: LuaHost)] = []
for file in files {
    let name = String(file.dropLast(4))
    let lua = try LuaHost(configuration: .init(
        name: name,
        memoryLimit: 16 << 20,             // bytes
        instructionBudget: 20_000_000,     // VM instructions per call
        callTimeout: .seconds(2)))
    try lua.register(module: "host", hostAPI)
    try lua.share(notices, as: "notices")
    try lua.start()
    try await lua.loadFile("\(folder)/\(file)")
    plugins.append((name, lua))
}
print("loaded \(plugins.count) plugins: \(plugins.map(\.name).joined(separator: ", "))")

struct Event: Codable { var name: String; var seq: Int }

for (seq, city) in ["Paris", "Oslo"].enumerated() {
    let event = try LuaEncoder().encode(Event(name: city, seq: seq))
    print("event \(city):")
    // Every plugin's handler at once; each answers or fails on its own.
    let results = await withTaskGroup(of: (String, String).self) { group in
        for p in plugins {
            group.addTask {
                do {
                    let r = try await p.lua.call("handle", [event])
                    return (p.name, "ok: \(r.first?.description ?? "nil")")
                } catch let e as LuaError {
                    let why = switch e.limit {
                    case .instructions: "stopped: instruction budget exceeded"
                    case .time: "stopped: timed out"
                    case .memory: "stopped: memory limit"
                    case nil: "error: \(e.message)"
                    }
                    return (p.name, why)
                } catch {
                    return (p.name, "error: \(error)")
                }
            }
        }
        var out: [(String, String)] = []
        for await r in group { out.append(r) }
        return out.sorted { $0.0 < $1.0 }
    }
    for (name, r) in results { print("  \(name): \(r)") }
}

// Drained on a plain thread, as a host's logging thread would.
let drained = await withCheckedContinuation { (c: CheckedContinuation<[String], Never>) in
    Thread.detachNewThread {
        var out: [String] = []
        while notices.count > 0, let v = try? notices.get(timeout: 1), let text = v.text { out.append(text) }
        c.resume(returning: out)
    }
}
for n in drained.sorted() { print("notice: \(n)") }

for p in plugins { await p.lua.shutdown() }
print("all plugins shut down")

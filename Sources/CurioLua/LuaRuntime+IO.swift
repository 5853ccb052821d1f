import CLua54
import CLuaShim
import CurioKernel
import CSys
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

// Kernel calls numbered 100 and above (curio_ops.h): I/O work that may block (name
// resolution, regular files) runs on the kernel's thread pool. A call starts a job
// and returns its id; the task waits with the THREAD trap, then `jobResult`
// collects the outcome.

/// What a job hands back to the kernel thread.
enum IOResult: Sendable {
    case addresses([ResolvedAddress])
    case gaiError(code: Int32, name: String, message: String)
    case errno(Int32)
    case bytes([UInt8])
    case int(Int)
}

struct ResolvedAddress: Sendable {
    var family: Int32, type: Int32, proto: Int32
    var host: String
    var port: Int
}

/// Descriptors of regular files with jobs in flight. A task cancelled while its
/// read or write runs on a pool thread leaves that thread using the fd: closing it
/// then is deferred to the job's end, so the number is never reused under it.
final class FileJobs: Sendable {
    private struct Entry { var inFlight = 0; var closeRequested = false }
    private let table = Mutex<[Int32: Entry]>([:])

    func begin(_ fd: Int32) { table.withLock { $0[fd, default: Entry()].inFlight += 1 } }

    func end(_ fd: Int32) {
        let close = table.withLock { t -> Bool in
            guard var e = t[fd] else { return false }
            e.inFlight -= 1
            if e.inFlight > 0 { t[fd] = e; return false }
            t[fd] = nil
            return e.closeRequested
        }
        if close { _ = Glibc.close(fd) }
    }

    /// Closes `fd` now, or when its last job ends.
    func close(_ fd: Int32) {
        let now = table.withLock { t -> Bool in
            guard t[fd] != nil else { return true }
            t[fd]!.closeRequested = true
            return false
        }
        if now { _ = Glibc.close(fd) }
    }
}

let fileJobs = FileJobs()

/// getaddrinfo's error codes by name (they are not errnos), glibc's own included.
private func gaiName(_ code: Int32) -> String { String(cString: csys_gai_name(code)) }

/// Runs getaddrinfo (on a pool thread) and renders the addresses numerically.
private func resolve(host: String?, port: String?, family: Int32, type: Int32, flags: Int32) -> IOResult {
    var hints = addrinfo()
    hints.ai_family = family
    hints.ai_socktype = type
    hints.ai_flags = flags
    var res: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, port, &hints, &res)
    if rc != 0 {
        if rc == EAI_SYSTEM { return .errno(errno) }
        return .gaiError(code: rc, name: gaiName(rc), message: String(cString: gai_strerror(rc)))
    }
    defer { freeaddrinfo(res) }
    var out: [ResolvedAddress] = []
    var p = res
    while let ai = p, out.count < 64 {
        p = ai.pointee.ai_next
        var h = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var s = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        guard getnameinfo(ai.pointee.ai_addr, ai.pointee.ai_addrlen, &h, socklen_t(h.count), &s,
                          socklen_t(s.count), NI_NUMERICHOST | NI_NUMERICSERV) == 0 else { continue }
        out.append(ResolvedAddress(family: ai.pointee.ai_family, type: ai.pointee.ai_socktype,
                                   proto: ai.pointee.ai_protocol,
                                   host: String(cBuffer: h),
                                   port: Int(String(cBuffer: s)) ?? 0))
    }
    return .addresses(out)
}

extension LuaRuntime {
    /// Same rules as `kcall`: only non-raising Lua API calls; strings are pushed
    /// with `cl_pushlstring`.
    func extensionCall(_ L: OpaquePointer, _ call: CurioKCall, nargs: Int32) -> Int32 {
        switch call {
        case .resolve:
            let host = luaString(L, 2), port = luaString(L, 3)
            let family = Int32(truncatingIfNeeded: lua_tointegerx(L, 4, nil))
            let type = Int32(truncatingIfNeeded: lua_tointegerx(L, 5, nil))
            let flags = Int32(truncatingIfNeeded: lua_tointegerx(L, 6, nil))
            return pushJob(L) { resolve(host: host, port: port, family: family, type: type, flags: flags) }
        case .jobResult:
            guard let r = takeJobResult(Int(lua_tointegerx(L, 2, nil))) as? IOResult else { return 0 }
            return push(L, r)
        case .fileOpen:
            guard let path = luaString(L, 2) else { return fail("curio: file path must be a string") }
            let flags = Int32(truncatingIfNeeded: lua_tointegerx(L, 3, nil))
            let mode = mode_t(truncatingIfNeeded: lua_tointegerx(L, 4, nil))
            // A FIFO's open blocks until its other end opens: a cancelled open opens
            // that end itself for an instant, which releases the pool thread; the
            // late descriptor is closed. A descriptor that epoll can watch (FIFO,
            // terminal, character device) is made non-blocking: curio.io then waits
            // for it on the poller, where cancellation is immediate.
            let work: @Sendable () -> any Sendable = {
                let fd = open(path, flags | O_CLOEXEC, mode)
                if fd < 0 { return IOResult.errno(errno) }
                var st = stat()
                if fstat(fd, &st) == 0 {
                    let kind = st.st_mode & S_IFMT
                    if kind == S_IFIFO || kind == S_IFCHR || kind == S_IFSOCK {
                        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    }
                }
                return IOResult.int(Int(fd))
            }
            guard let id = submitJob(work, discard: { r in
                if case .int(let fd)? = r as? IOResult { _ = Glibc.close(Int32(fd)) }
            }, onCancel: {
                var st = stat()
                guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFIFO else { return }
                let other = (flags & O_ACCMODE) == O_RDONLY ? O_WRONLY : O_RDONLY
                let fd = open(path, other | O_NONBLOCK | O_CLOEXEC)
                if fd >= 0 { _ = Glibc.close(fd) }
            }) else { return fail("curio: no kernel is running") }
            lua_pushinteger(L, lua_Integer(id))
            return 1
        case .fileRead:
            let fd = Int32(truncatingIfNeeded: lua_tointegerx(L, 2, nil))
            let n = max(0, min(Int(lua_tointegerx(L, 3, nil)), 1 << 20))
            fileJobs.begin(fd)
            return pushJob(L) {
                defer { fileJobs.end(fd) }
                var e: Int32 = 0
                let bytes = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
                    var r: Int
                    repeat { r = read(fd, buf.baseAddress, n) } while r < 0 && errno == EINTR
                    if r < 0 { e = errno; count = 0 } else { count = r }
                }
                return e != 0 ? IOResult.errno(e) : IOResult.bytes(bytes)
            }
        case .fileWrite:
            let fd = Int32(truncatingIfNeeded: lua_tointegerx(L, 2, nil))
            guard lua_type(L, 3) == LUA_TSTRING else { return fail("curio: data must be a string") }
            var len = 0
            guard let p = lua_tolstring(L, 3, &len) else { return fail("curio: data must be a string") }
            let data = [UInt8](UnsafeRawBufferPointer(start: p, count: len))
            fileJobs.begin(fd)
            return pushJob(L) {
                defer { fileJobs.end(fd) }
                var done = 0
                while done < data.count {
                    let r = data.withUnsafeBytes { write(fd, $0.baseAddress! + done, data.count - done) }
                    if r < 0 {
                        if errno == EINTR { continue }
                        return done > 0 ? IOResult.int(done) : IOResult.errno(errno)
                    }
                    done += r
                }
                return IOResult.int(done)
            }
        case .fileClose:
            fileJobs.close(Int32(truncatingIfNeeded: lua_tointegerx(L, 2, nil)))
            return 0
        default:
            return fail("curio: kernel call \(call.rawValue) is not an I/O call")
        }
    }

    /// A string or number argument as a Swift String (nil for nil/other types).
    private func luaString(_ L: OpaquePointer, _ i: Int32) -> String? {
        switch lua_type(L, i) {
        case LUA_TSTRING:
            var len = 0
            guard let p = lua_tolstring(L, i, &len) else { return nil }
            return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
        case LUA_TNUMBER:
            return lua_isinteger(L, i) != 0 ? String(lua_tointegerx(L, i, nil)) : String(lua_tonumberx(L, i, nil))
        default:
            return nil
        }
    }

    private func pushJob(_ L: OpaquePointer, _ work: @escaping @Sendable () -> IOResult) -> Int32 {
        guard let id = submitJob({ work() }) else { return fail("curio: no kernel is running") }
        lua_pushinteger(L, lua_Integer(id))
        return 1
    }

    private func pushText(_ L: OpaquePointer, _ s: String) -> Bool {
        var s = s
        return s.withUTF8 { cl_pushlstring(L, $0.baseAddress, $0.count) } == 0
    }

    private func push(_ L: OpaquePointer, _ r: IOResult) -> Int32 {
        let oom = "curio: out of memory"
        switch r {
        case .addresses(let list):
            guard lua_checkstack(L, Int32(list.count * 5 + 4)) != 0 else { return fail(oom) }
            lua_pushinteger(L, lua_Integer(list.count))
            for a in list {
                lua_pushinteger(L, lua_Integer(a.family))
                lua_pushinteger(L, lua_Integer(a.type))
                lua_pushinteger(L, lua_Integer(a.proto))
                guard pushText(L, a.host) else { return fail(oom) }
                lua_pushinteger(L, lua_Integer(a.port))
            }
            return Int32(list.count * 5 + 1)
        case .gaiError(let code, let name, let message):
            lua_pushnil(L)
            lua_pushinteger(L, lua_Integer(code))
            guard pushText(L, name), pushText(L, message) else { return fail(oom) }
            return 4
        case .errno(let e):
            lua_pushnil(L)
            lua_pushinteger(L, lua_Integer(e))
            return 2
        case .bytes(let b):
            if b.isEmpty { return pushText(L, "") ? 1 : fail(oom) }
            let rc = b.withUnsafeBufferPointer { p in
                p.withMemoryRebound(to: CChar.self) { cl_pushlstring(L, $0.baseAddress, $0.count) }
            }
            return rc == 0 ? 1 : fail(oom)
        case .int(let n):
            lua_pushinteger(L, lua_Integer(n))
            return 1
        }
    }
}

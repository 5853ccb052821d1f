import CLua54
import CLuaShim

// Values crossing the Lua stack, with non-raising API calls only (see
// docs/internals.md, "The boundary rule"): Swift reads with lua_to*/lua_next and
// pushes numbers itself; strings go through a protected push, tables and
// references through an encoded buffer that C pushes in protected mode.
//
// The buffer: a tag byte, then 0 nil, 1 false, 2 true, 3 integer (8 bytes), 4 float
// (8 bytes), 5 string (8-byte length, bytes), 6 table (8-byte array count, 8-byte
// entry count, the array values, then key/value pairs), 7 registry reference (8 bytes).

struct ValueEncoder {
    var bytes: [UInt8] = []
    var count: Int32 = 0
    let host: LuaHost

    init(host: LuaHost) { self.host = host; bytes.reserveCapacity(64) }

    mutating func add(_ v: LuaValue) throws(LuaHostError) {
        try write(v)
        count += 1
    }

    private mutating func raw<T>(_ x: T) {
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }

    private mutating func write(_ v: LuaValue) throws(LuaHostError) {
        switch v {
        case .nil: bytes.append(0)
        case .boolean(let b): bytes.append(b ? 2 : 1)
        case .integer(let i): bytes.append(3); raw(Int64(i))
        case .number(let d): bytes.append(4); raw(d)
        case .string(let s): bytes.append(5); raw(UInt64(s.bytes.count)); bytes.append(contentsOf: s.bytes)
        case .table(let t) where t.reference?.host === host:
            try writeRef(t.reference!) // the same Lua table (a copy of another runtime's is copied)
        case .table(let t):
            bytes.append(6); raw(UInt64(t.array.count)); raw(UInt64(t.hash.count))
            for e in t.array { try write(e) }
            for (k, e) in t.hash { try write(k); try write(e) }
        case .function(let f): try writeRef(f.reference)
        case .userdata(let r): try writeRef(r)
        }
    }

    private mutating func writeRef(_ r: LuaReference) throws(LuaHostError) {
        guard r.host === host else { throw .foreignValue }
        bytes.append(7)
        raw(Int64(r.ref))
    }

    /// Pushes the encoded values onto `L` (protected). False if memory ran out.
    func push(_ L: OpaquePointer) -> Bool {
        bytes.withUnsafeBufferPointer { cl_embed_push(L, $0.baseAddress, $0.count, count) == 0 }
    }
}

extension EmbedCore {
    /// Reads the value at `idx` of `L` (never raises; a reference that cannot be
    /// made for lack of memory reads as nil).
    func read(_ L: OpaquePointer, _ idx: Int32) -> LuaValue {
        var seen: Set<UnsafeRawPointer> = []
        return read(L, lua_absindex(L, idx), depth: 0, seen: &seen)
    }

    /// Reads values first...last.
    func readAll(_ L: OpaquePointer, from first: Int32, to last: Int32) -> [LuaValue] {
        guard first <= last else { return [] }
        var out: [LuaValue] = []
        out.reserveCapacity(Int(last - first + 1))
        for i in first...last { out.append(read(L, i)) }
        return out
    }

    private func read(_ L: OpaquePointer, _ idx: Int32, depth: Int, seen: inout Set<UnsafeRawPointer>) -> LuaValue {
        switch lua_type(L, idx) {
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(L, idx) != 0)
        case LUA_TNUMBER:
            var isInt: Int32 = 0
            let i = lua_tointegerx(L, idx, &isInt)
            return isInt != 0 ? .integer(Int(i)) : .number(lua_tonumberx(L, idx, nil))
        case LUA_TSTRING:
            var len = 0
            guard let p = lua_tolstring(L, idx, &len) else { return .nil }
            return .string(LuaString(bytes: Array(UnsafeRawBufferPointer(start: p, count: len))))
        case LUA_TTABLE:
            guard depth < 100, let ptr = lua_topointer(L, idx), !seen.contains(ptr),
                  lua_checkstack(L, 3) != 0 else { return .nil }
            seen.insert(ptr)
            defer { seen.remove(ptr) }
            var t = LuaTable()
            let n = Int(lua_rawlen(L, idx))
            t.array.reserveCapacity(min(n, 1 << 20))
            for i in 0..<n {
                lua_rawgeti(L, idx, lua_Integer(i + 1))
                let v = read(L, lua_gettop(L), depth: depth + 1, seen: &seen)
                lua_settop(L, -2)
                if v == .nil { break }
                t.array.append(v)
            }
            lua_pushnil(L)
            while lua_next(L, idx) != 0 {
                let top = lua_gettop(L)
                let k = read(L, top - 1, depth: depth + 1, seen: &seen)
                let isArrayKey: Bool
                if case .integer(let i) = k, i >= 1, i <= t.array.count { isArrayKey = true } else { isArrayKey = false }
                if !isArrayKey, k != .nil {
                    t.hash[k] = read(L, top, depth: depth + 1, seen: &seen)
                }
                lua_settop(L, -2)
            }
            // The value itself (not a nested table) keeps its Lua table.
            if depth == 0, let r = reference(L, idx, "table") { t.reference = r }
            return .table(t)
        case LUA_TFUNCTION:
            guard let r = reference(L, idx, "function") else { return .nil }
            return .function(LuaFunction(r))
        case LUA_TUSERDATA, LUA_TLIGHTUSERDATA, LUA_TTHREAD:
            let name = String(cString: lua_typename(L, lua_type(L, idx)))
            guard let r = reference(L, idx, name) else { return .nil }
            return .userdata(r)
        default:
            return .nil
        }
    }

    private func reference(_ L: OpaquePointer, _ idx: Int32, _ typeName: String) -> LuaReference? {
        let ref = cl_embed_ref(L, idx)
        guard ref > 0 else { return nil }
        return LuaReference(ref: ref, host: host, typeName: typeName)
    }

    /// Pushes one value (protected where it allocates). False: out of memory, or a
    /// reference of another runtime.
    func push(_ L: OpaquePointer, _ v: LuaValue) -> Bool {
        switch v {
        case .nil: lua_pushnil(L)
        case .boolean(let b): lua_pushboolean(L, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(L, lua_Integer(i))
        case .number(let d): lua_pushnumber(L, d)
        case .string(let s):
            return s.bytes.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { cl_pushlstring(L, $0.baseAddress, $0.count) == 0 }
            }
        case .table, .function, .userdata:
            var enc = ValueEncoder(host: host)
            do { try enc.add(v) } catch { return false }
            return enc.push(L)
        }
        return true
    }

    /// Pushes values; returns their count, or nil (nothing pushed) on failure.
    func pushAll(_ L: OpaquePointer, _ values: [LuaValue]) -> Int32? {
        guard lua_checkstack(L, Int32(clamping: values.count + 2)) != 0 else { return nil }
        let top = lua_gettop(L)
        for v in values where !push(L, v) {
            lua_settop(L, top)
            return nil
        }
        return Int32(values.count)
    }
}

import CLua54
import CLuaShim
#if canImport(Glibc)
import Glibc
#endif

/// A transferable value as Swift sees it: what `UniversalQueue.put` sends and
/// `get` receives. Tables are an array part and key/value pairs; a table shared
/// inside one value arrives as copies, and a cyclic one cannot be received.
public indirect enum TransferValue: Sendable, Equatable {
    case `nil`
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string([UInt8])
    case table(array: [TransferValue], pairs: [TransferPair])
    case queue(UniversalQueue)
    case event(UniversalEvent)

    public static func text(_ s: String) -> TransferValue { .string(Array(s.utf8)) }
    public var text: String? {
        if case .string(let b) = self { return String(decoding: b, as: UTF8.self) }
        return nil
    }

    public static func == (a: TransferValue, b: TransferValue) -> Bool {
        switch (a, b) {
        case (.nil, .nil): true
        case (.bool(let x), .bool(let y)): x == y
        case (.int(let x), .int(let y)): x == y
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        case (.string(let x), .string(let y)): x == y
        case (.table(let a1, let p1), .table(let a2, let p2)): a1 == a2 && p1 == p2
        case (.queue(let x), .queue(let y)): x.obj == y.obj
        case (.event(let x), .event(let y)): x.obj == y.obj
        default: false
        }
    }
}

public struct TransferPair: Sendable, Equatable {
    public var key: TransferValue
    public var value: TransferValue
    public init(_ key: TransferValue, _ value: TransferValue) { self.key = key; self.value = value }
}

/// A value could not be encoded or decoded.
public struct TransferError: Swift.Error, CustomStringConvertible {
    public let message: String
    public var description: String { "TransferError: \(message)" }
}

/// Encodes one value into a new message.
func encodeMessage(_ v: TransferValue) throws(TransferError) -> UnsafeMutablePointer<cl_msg> {
    try encodeValues([v])
}

/// Encodes values, in order, into a new message.
func encodeValues(_ vs: [TransferValue]) throws(TransferError) -> UnsafeMutablePointer<cl_msg> {
    guard let m = cl_msg_new() else { throw TransferError(message: "not enough memory") }
    func put(_ v: TransferValue) -> Bool {
        switch v {
        case .nil: return cl_msg_put_nil(m) == 0
        case .bool(let b): return cl_msg_put_bool(m, b ? 1 : 0) == 0
        case .int(let i): return cl_msg_put_int(m, i) == 0
        case .double(let d): return cl_msg_put_double(m, d) == 0
        case .string(let s): return s.withUnsafeBufferPointer { b in
                b.withMemoryRebound(to: CChar.self) { cl_msg_put_string(m, $0.baseAddress, $0.count) == 0 }
            }
        case .table(let array, let pairs):
            guard let na = UInt32(exactly: array.count), let nh = UInt32(exactly: pairs.count),
                  cl_msg_put_table(m, na, nh) == 0 else { return false }
            for x in array where !put(x) { return false }
            for p in pairs {
                if case .nil = p.key { return false }
                if case .double(let d) = p.key, d.isNaN { return false }
                if !put(p.key) || !put(p.value) { return false }
            }
            return true
        case .queue(let q): return cl_msg_put_handle(m, q.obj) == 0
        case .event(let e): return cl_msg_put_handle(m, e.obj) == 0
        }
    }
    if !vs.allSatisfy(put) {
        cl_msg_free(m)
        throw TransferError(message: "value cannot be encoded (nil or NaN key, too large, or out of memory)")
    }
    return m
}

/// Decodes the single value of a message (which stays the caller's).
func decodeMessage(_ m: UnsafeMutablePointer<cl_msg>) throws(TransferError) -> TransferValue {
    let vs = try decodeValues(m)
    guard vs.count == 1 else { throw TransferError(message: "corrupt message: \(vs.count) values, not one") }
    return vs[0]
}

/// Decodes every value of a message (which stays the caller's).
func decodeValues(_ m: UnsafeMutablePointer<cl_msg>) throws(TransferError) -> [TransferValue] {
    let bytes = UnsafeRawBufferPointer(start: m.pointee.data, count: m.pointee.len)
    var pos = 0
    var tables: [TransferValue?] = []
    var shortStrings: [[UInt8]] = [] // tags 7 and 12, in order: 13 names one by number
    func fail(_ why: String) -> TransferError { TransferError(message: "corrupt message: \(why)") }
    func read<T>(_ t: T.Type) throws(TransferError) -> T {
        guard bytes.count - pos >= MemoryLayout<T>.size else { throw fail("truncated") }
        defer { pos += MemoryLayout<T>.size }
        return bytes.loadUnaligned(fromByteOffset: pos, as: T.self)
    }
    func value(_ depth: Int) throws(TransferError) -> TransferValue {
        if depth > 200 { throw fail("too deep") }
        switch try read(UInt8.self) {
        case 0: return .nil
        case 1: return .bool(false)
        case 2: return .bool(true)
        case 3: return .int(try read(Int64.self))
        case 4: return .int(Int64(try read(Int32.self)))
        case 5: return .double(try read(Double.self))
        case 6, 7, 12: // a string (12: a short one referred to again later)
            let short = bytes[pos - 1] != 6
            let n = short ? Int(try read(UInt8.self)) : Int(try read(UInt32.self))
            guard bytes.count - pos >= n else { throw fail("truncated") }
            defer { pos += n }
            let s = Array(bytes[pos..<pos + n])
            if short { shortStrings.append(s) }
            return .string(s)
        case 13:
            let r = Int(try read(UInt32.self))
            guard r < shortStrings.count else { throw fail("bad string reference") }
            return .string(shortStrings[r])
        case 8, 11: // a table (11: one referred to again later)
            let na = Int(try read(UInt32.self)), nh = Int(try read(UInt32.self))
            guard na <= bytes.count - pos, nh <= bytes.count - pos else { throw fail("table larger than the message") }
            let index = tables.count
            tables.append(nil)
            var array: [TransferValue] = []
            var pairs: [TransferPair] = []
            for _ in 0..<na { array.append(try value(depth + 1)) }
            for _ in 0..<nh {
                let k = try value(depth + 1)
                pairs.append(TransferPair(k, try value(depth + 1)))
            }
            let t = TransferValue.table(array: array, pairs: pairs)
            tables[index] = t
            return t
        case 9:
            let r = Int(try read(UInt32.self))
            guard r < tables.count else { throw fail("bad table reference") }
            guard let t = tables[r] else { throw TransferError(message: "cyclic table: Swift cannot receive it") }
            return t
        case 10:
            let kind = Int32(try read(UInt8.self))
            let i = Int(try read(UInt32.self))
            guard i < Int(m.pointee.nhandles), let o = m.pointee.handles[i], cl_uobj_kind(o) == kind else {
                throw fail("bad handle")
            }
            return kind == Int32(CL_UQUEUE) ? .queue(UniversalQueue(retaining: o)) : .event(UniversalEvent(retaining: o))
        default:
            throw fail("unknown tag")
        }
    }
    var values: [TransferValue] = []
    while pos < bytes.count { values.append(try value(0)) }
    return values
}

/// `curio.UniversalQueue` for Swift threads: the same object Lua tasks and worker
/// threads use (hand it to Lua with `LuaRuntime.setGlobal`). Calls block the
/// calling OS thread; never call them on a kernel's thread.
public final class UniversalQueue: @unchecked Sendable {
    let obj: OpaquePointer

    public init(maxsize: Int = 0) {
        guard let o = cl_uobj_new(Int32(CL_UQUEUE), Int64(max(0, maxsize))) else { fatalError("out of memory") }
        obj = o
    }
    init(retaining o: OpaquePointer) {
        cl_uobj_retain(o)
        obj = o
    }
    deinit { cl_uobj_release(obj) }

    /// Appends `value`, waiting while the queue is full (at most `timeout` seconds
    /// if given). Returns false on timeout.
    @discardableResult
    public func put(_ value: TransferValue, timeout: Double? = nil) throws(TransferError) -> Bool {
        if case .nil = value { throw TransferError(message: "item must not be nil") }
        let m = try encodeMessage(value)
        if cl_uq_put_block(obj, m, timeout ?? -1) != 0 { cl_msg_free(m); return false }
        return true
    }

    /// Removes the oldest item, waiting while empty (at most `timeout` seconds if
    /// given: nil on timeout).
    public func get(timeout: Double? = nil) throws(TransferError) -> TransferValue? {
        guard let m = cl_uq_get_block(obj, timeout ?? -1) else { return nil }
        defer { cl_msg_free(m) }
        return try decodeMessage(m)
    }

    /// Marks one item done; false if more were marked than put.
    @discardableResult
    public func taskDone() -> Bool { cl_uq_task_done(obj) == 0 }
    /// Waits until every item put was marked done; false on timeout.
    @discardableResult
    public func join(timeout: Double? = nil) -> Bool { cl_uq_join_block(obj, timeout ?? -1) == 0 }
    public var count: Int { Int(cl_uq_size(obj)) }
}

/// `curio.UniversalEvent` for Swift threads.
public final class UniversalEvent: @unchecked Sendable {
    let obj: OpaquePointer

    public init() {
        guard let o = cl_uobj_new(Int32(CL_UEVENT), 0) else { fatalError("out of memory") }
        obj = o
    }
    init(retaining o: OpaquePointer) {
        cl_uobj_retain(o)
        obj = o
    }
    deinit { cl_uobj_release(obj) }

    public func set() { cl_ue_set(obj) }
    public func clear() { cl_ue_clear(obj) }
    public var isSet: Bool { cl_ue_is_set(obj) != 0 }
    /// Waits until set; false on timeout.
    @discardableResult
    public func wait(timeout: Double? = nil) -> Bool { cl_ue_wait_block(obj, timeout ?? -1) == 0 }
}

extension LuaRuntime {
    /// Makes `queue` the Lua global `name` (the same object: tasks and workers of
    /// this runtime use it with Swift threads).
    public func setGlobal(_ name: String, _ queue: UniversalQueue) throws(ScriptError) {
        if cl_uobj_setglobal(L, name, queue.obj) != 0 { throw ScriptError(message: "cannot set global \(name)") }
    }

    public func setGlobal(_ name: String, _ event: UniversalEvent) throws(ScriptError) {
        if cl_uobj_setglobal(L, name, event.obj) != 0 { throw ScriptError(message: "cannot set global \(name)") }
    }
}

import CLua54
import CLuaShim

/// The arguments of a Swift function called from Lua, numbered from 1 as in Lua.
///
/// For a synchronous function they are read from the Lua stack on demand and are
/// valid only during the call (do not keep them); async and blocking functions get
/// a copy. The typed accessors throw ``LuaArgumentError``, which Lua raises as
/// lauxlib would: `bad argument #2 to 'host.add' (number expected, got string)`.
public struct LuaArguments: @unchecked Sendable {
    // Either a Lua stack (L non-nil: a synchronous call in progress) or a copy.
    private let L: OpaquePointer?
    private unowned(unsafe) let core: EmbedCore?
    private let stored: [LuaValue]?
    /// How many arguments were passed.
    public let count: Int

    init(stack L: OpaquePointer, count: Int32, core: EmbedCore) {
        self.L = L
        self.core = core
        stored = nil
        self.count = Int(count)
    }

    /// Arguments given as values (also handy to test a host function directly).
    public init(_ values: [LuaValue]) {
        L = nil
        core = nil
        stored = values
        count = values.count
    }

    /// A copy of every argument.
    public var values: [LuaValue] {
        if let L, let core { return core.readAll(L, from: 1, to: Int32(count)) }
        return stored ?? []
    }

    /// Argument `i` (nil if absent).
    public subscript(i: Int) -> LuaValue {
        guard i >= 1, i <= count else { return .nil }
        if let L, let core { return core.read(L, Int32(i)) }
        return stored![i - 1]
    }

    private func typeName(_ i: Int) -> String {
        guard i >= 1, i <= count else { return "no value" }
        if let L { return String(cString: lua_typename(L, lua_type(L, Int32(i)))) }
        return stored![i - 1].typeName
    }

    private func typeError(_ i: Int, _ expected: String) -> LuaArgumentError {
        LuaArgumentError(i, "\(expected) expected, got \(typeName(i))")
    }

    /// An integer argument (a float with an integer value is accepted, as Lua does).
    public func int(_ i: Int) throws(LuaArgumentError) -> Int {
        if let L, i >= 1, i <= count {
            // As luaL_checkinteger: numbers and numeric strings with an integer value.
            var ok: Int32 = 0
            let v = lua_tointegerx(L, Int32(truncatingIfNeeded: i), &ok)
            if ok != 0 { return Int(v) }
            if lua_type(L, Int32(i)) == LUA_TNUMBER {
                throw LuaArgumentError(i, "number has no integer representation")
            }
            throw typeError(i, "number")
        }
        let v = self[i]
        if let n = v.intValue { return n }
        if case .number = v { throw LuaArgumentError(i, "number has no integer representation") }
        throw typeError(i, "number")
    }

    /// A number argument.
    public func double(_ i: Int) throws(LuaArgumentError) -> Double {
        if let L, i >= 1, i <= count {
            var ok: Int32 = 0
            let v = lua_tonumberx(L, Int32(truncatingIfNeeded: i), &ok)
            if ok != 0 { return v }
            throw typeError(i, "number")
        }
        guard let d = self[i].doubleValue else { throw typeError(i, "number") }
        return d
    }

    /// A string argument (numbers are accepted and converted, as lauxlib does).
    public func string(_ i: Int) throws(LuaArgumentError) -> String {
        guard let s = self[i].stringValue else { throw typeError(i, "string") }
        return s
    }

    /// A string argument's bytes.
    public func bytes(_ i: Int) throws(LuaArgumentError) -> [UInt8] {
        switch self[i] {
        case .string(let s): return s.bytes
        case let v where v.stringValue != nil: return Array(v.stringValue!.utf8)
        default: throw typeError(i, "string")
        }
    }

    /// A boolean argument (strictly a boolean).
    public func bool(_ i: Int) throws(LuaArgumentError) -> Bool {
        guard let b = self[i].boolValue else { throw typeError(i, "boolean") }
        return b
    }

    /// A table argument (copied).
    public func table(_ i: Int) throws(LuaArgumentError) -> LuaTable {
        guard let t = self[i].tableValue else { throw typeError(i, "table") }
        return t
    }

    /// A function argument.
    public func function(_ i: Int) throws(LuaArgumentError) -> LuaFunction {
        guard let f = self[i].functionValue else { throw typeError(i, "function") }
        return f
    }

    /// Argument `i`, or nil if it is nil or absent; else converted by `get`.
    public func optional<T>(_ i: Int, _ get: (Int) throws(LuaArgumentError) -> T) throws(LuaArgumentError) -> T? {
        self[i] == .nil ? nil : try get(i)
    }

    /// Argument `i` decoded into a `Decodable` type (see ``LuaDecoder``).
    public func decode<T: Decodable>(_ type: T.Type, _ i: Int) throws(LuaArgumentError) -> T {
        do { return try LuaDecoder().decode(type, from: self[i]) } catch {
            throw LuaArgumentError(i, "\(error)")
        }
    }
}

/// A bad argument to a Swift function called from Lua: Lua raises it as
/// `bad argument #<index> to '<function>' (<message>)`.
public struct LuaArgumentError: Error, Sendable, CustomStringConvertible {
    /// The argument's position (1-based).
    public let index: Int
    /// What is wrong, as lauxlib says it ("number expected, got string").
    public let message: String
    /// An error about argument `index`.
    public init(_ index: Int, _ message: String) {
        self.index = index
        self.message = message
    }
    public var description: String { "bad argument #\(index) (\(message))" }
}

/// A Swift function Lua can call, for ``LuaHost/register(module:_:)``.
public struct LuaHostFunction: Sendable {
    enum Body: Sendable {
        case sync(@Sendable (LuaArguments) throws -> LuaValue)
        case syncMany(@Sendable (LuaArguments) throws -> [LuaValue])
        case async(@Sendable (LuaArguments) async throws -> [LuaValue])
        case blocking(@Sendable (LuaArguments) throws -> [LuaValue])
    }
    let name: String
    let body: Body

    /// A synchronous function: runs on the runtime's kernel thread while the
    /// calling task waits, so it must be quick and must not block. Returns one value.
    public static func sync(_ name: String, _ body: @escaping @Sendable (LuaArguments) throws -> LuaValue) -> Self {
        Self(name: name, body: .sync(body))
    }

    /// A synchronous function returning several values (or none).
    public static func syncMany(_ name: String, _ body: @escaping @Sendable (LuaArguments) throws -> [LuaValue]) -> Self {
        Self(name: name, body: .syncMany(body))
    }

    /// An `async` function: the calling Lua task suspends while it runs as a Swift
    /// `Task`, the kernel goes on running other tasks, and the results come back
    /// through the kernel's inbox. Cancelling the Lua task cancels the Swift task.
    public static func async(_ name: String, _ body: @escaping @Sendable (LuaArguments) async throws -> [LuaValue]) -> Self {
        Self(name: name, body: .async(body))
    }

    /// A blocking function: runs on the kernel's thread pool while the calling task
    /// waits (the kernel goes on). If the task is cancelled meanwhile the function
    /// still runs to its end; its results are dropped.
    public static func blocking(_ name: String, _ body: @escaping @Sendable (LuaArguments) throws -> [LuaValue]) -> Self {
        Self(name: name, body: .blocking(body))
    }
}

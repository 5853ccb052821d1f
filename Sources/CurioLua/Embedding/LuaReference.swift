/// A Lua value held by Swift through a registry reference: it stays alive while
/// Swift holds this object, and is released (on the runtime's kernel thread) when
/// the last Swift reference goes. Using it after its runtime shut down throws
/// ``LuaHostError/closed``.
public final class LuaReference: Sendable, Hashable, CustomStringConvertible {
    let ref: Int32
    let host: LuaHost
    /// The Lua type name of the value (`"userdata"`, `"thread"`, `"function"`...).
    public let typeName: String

    init(ref: Int32, host: LuaHost, typeName: String) {
        self.ref = ref
        self.host = host
        self.typeName = typeName
    }

    deinit { host.release(ref) }

    public static func == (a: LuaReference, b: LuaReference) -> Bool { a === b }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(self)) }
    public var description: String { "\(typeName) (ref \(ref))" }
}

/// A Lua function held by Swift. Calling it runs it as a new task of its runtime.
public final class LuaFunction: Sendable, Hashable {
    /// The reference that keeps the function alive.
    public let reference: LuaReference

    init(_ reference: LuaReference) { self.reference = reference }

    /// Calls the function as a new Lua task and returns its results. Cancelling the
    /// calling Swift task cancels the Lua task. Throws ``LuaError`` for a Lua error
    /// (and for the runtime's limits), `CancellationError` when cancelled.
    public func call(_ args: [LuaValue], options: LuaCallOptions = .init()) async throws -> [LuaValue] {
        try await reference.host.call(target: .function(self), args: args, options: options)
    }

    /// Variadic form of ``call(_:options:)``.
    public func call(_ args: LuaValue...) async throws -> [LuaValue] {
        try await call(args)
    }

    public static func == (a: LuaFunction, b: LuaFunction) -> Bool { a.reference === b.reference }
    public func hash(into h: inout Hasher) { h.combine(ObjectIdentifier(reference)) }
}

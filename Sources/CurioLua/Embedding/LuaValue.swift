#if canImport(Glibc)
import Glibc
#endif

/// A Lua value as Swift sees it.
///
/// Scalars and strings are copied. A table crossing into Swift is copied by value
/// into a ``LuaTable`` (deeply; a cycle or depth past 100 stops the copy with
/// `nil`). Functions, userdata and coroutines cross as references
/// (``LuaFunction``, ``LuaReference``) that keep the Lua value alive until Swift
/// drops them.
public enum LuaValue: Sendable, Hashable {
    case `nil`
    case boolean(Bool)
    /// A Lua integer (64-bit).
    case integer(Int)
    /// A Lua float.
    case number(Double)
    /// A Lua string: bytes, with a `String` view (``LuaString/string``).
    case string(LuaString)
    /// A copy of a Lua table.
    case table(LuaTable)
    /// A reference to a Lua function.
    case function(LuaFunction)
    /// A reference to any other Lua value (userdata, coroutine): opaque to Swift,
    /// passed back to Lua as the same value.
    case userdata(LuaReference)
}

/// The bytes of a Lua string. Lua strings need not be UTF-8; ``string`` decodes
/// them (invalid sequences become U+FFFD).
public struct LuaString: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The string's bytes.
    public var bytes: [UInt8]
    /// A string of these bytes.
    public init(bytes: [UInt8]) { self.bytes = bytes }
    /// The UTF-8 bytes of `string`.
    public init(_ string: String) { bytes = Array(string.utf8) }
    public init(stringLiteral value: String) { self.init(value) }
    /// The bytes decoded as UTF-8.
    public var string: String { String(decoding: bytes, as: UTF8.self) }
    /// The bytes as UTF-8, or nil if they are not valid UTF-8.
    public var validatedString: String? { String(validating: bytes, as: UTF8.self) }
    public var description: String { string }
}

/// A copy of a Lua table: its sequence `1...array.count` and its other entries.
///
/// A table that came from Lua (an argument, a result) also keeps a reference to
/// the Lua table it copies, as long as the copy is not modified: passing it back
/// to Lua then passes that same table (identity, metatable and all), and the
/// table stays alive while Swift holds the copy. Equality compares contents only.
public struct LuaTable: Sendable, Hashable {
    /// Values at keys 1, 2, ... up to the first nil.
    public var array: [LuaValue] { didSet { reference = nil } }
    /// Every other entry (keys are never nil or NaN).
    public var hash: [LuaValue: LuaValue] { didSet { reference = nil } }
    /// The Lua table this is an unmodified copy of (nil once modified, and for
    /// tables made in Swift).
    public internal(set) var reference: LuaReference?

    /// A table with this sequence and these other entries.
    public init(array: [LuaValue] = [], hash: [LuaValue: LuaValue] = [:]) {
        self.array = array
        self.hash = hash
    }

    public static func == (a: LuaTable, b: LuaTable) -> Bool { a.array == b.array && a.hash == b.hash }
    public func hash(into h: inout Hasher) {
        h.combine(array)
        h.combine(hash)
    }

    /// The value at `key` (nil when absent).
    public subscript(key: LuaValue) -> LuaValue {
        get {
            if case .integer(let i) = key, i >= 1, i <= array.count { return array[i - 1] }
            return hash[key] ?? .nil
        }
        set {
            if case .integer(let i) = key, i >= 1, i <= array.count {
                if newValue == .nil {
                    // Keys past a hole move to the hash part, as Lua's length would end there.
                    for j in i..<array.count { hash[.integer(j + 1)] = array[j] }
                    array.removeSubrange((i - 1)...)
                } else {
                    array[i - 1] = newValue
                }
                return
            }
            if case .integer(let i) = key, i == array.count + 1, newValue != .nil {
                array.append(newValue)
                hash[key] = nil
                // Absorb the following keys that now continue the sequence.
                while let next = hash.removeValue(forKey: .integer(array.count + 1)) { array.append(next) }
                return
            }
            hash[key] = newValue == .nil ? nil : newValue
        }
    }

    /// The value at a string key.
    public subscript(key: String) -> LuaValue {
        get { self[.string(LuaString(key))] }
        set { self[.string(LuaString(key))] = newValue }
    }

    /// Entries whose keys are strings, by key.
    public var fields: [String: LuaValue] {
        var d: [String: LuaValue] = [:]
        for (k, v) in hash { if case .string(let s) = k { d[s.string] = v } }
        return d
    }

    /// Whether the table is a sequence only (no other entries).
    public var isSequence: Bool { hash.isEmpty }
    /// The number of entries.
    public var count: Int { array.count + hash.count }
}

extension LuaValue {
    /// The Lua type name, as `type()` would say.
    public var typeName: String {
        switch self {
        case .nil: "nil"
        case .boolean: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .table: "table"
        case .function: "function"
        case .userdata(let r): r.typeName
        }
    }

    /// Lua truth: everything but nil and false.
    public var isTruthy: Bool {
        switch self {
        case .nil, .boolean(false): false
        default: true
        }
    }

    /// Whether this is nil.
    public var isNil: Bool { self == .nil }
}

// MARK: - conversions from Swift

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(integerLiteral value: Int) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(LuaString(value)) }
    public init(arrayLiteral elements: LuaValue...) { self = .table(LuaTable(array: elements)) }
    public init(dictionaryLiteral elements: (String, LuaValue)...) {
        var t = LuaTable()
        for (k, v) in elements { t[k] = v }
        self = .table(t)
    }

    /// A boolean.
    public init(_ value: Bool) { self = .boolean(value) }
    /// An integer.
    public init(_ value: Int) { self = .integer(value) }
    /// A float.
    public init(_ value: Double) { self = .number(value) }
    /// A string (its UTF-8 bytes).
    public init(_ value: String) { self = .string(LuaString(value)) }
    /// Bytes as a Lua string.
    public init(bytes: [UInt8]) { self = .string(LuaString(bytes: bytes)) }
    /// A sequence (nil elements end it, as in Lua: later ones go to the hash part).
    public init(_ values: [LuaValue]) {
        var t = LuaTable()
        for (i, v) in values.enumerated() { t[.integer(i + 1)] = v }
        self = .table(t)
    }
    /// A table with string keys.
    public init(_ fields: [String: LuaValue]) {
        var t = LuaTable()
        for (k, v) in fields { t[k] = v }
        self = .table(t)
    }
    /// `nil` for nil, else the wrapped value.
    public init<T: LuaRepresentable>(_ value: T?) { self = value?.luaValue ?? .nil }
}

// MARK: - conversions to Swift

extension LuaValue {
    /// An integer: a Lua integer, or a float with an exact integer value.
    public var intValue: Int? {
        switch self {
        case .integer(let i): i
        case .number(let d): Int(exactly: d)
        default: nil
        }
    }
    /// Any Lua number as a Double.
    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }
    /// A string (decoded as UTF-8), or a number as Lua's tostring would write it.
    public var stringValue: String? {
        switch self {
        case .string(let s): s.string
        case .integer(let i): String(i)
        case .number(let d): luaNumberText(d)
        default: nil
        }
    }
    /// A boolean (nil for any other type: Lua truth is ``isTruthy``).
    public var boolValue: Bool? { if case .boolean(let b) = self { b } else { nil } }
    /// A table's copy.
    public var tableValue: LuaTable? { if case .table(let t) = self { t } else { nil } }
    /// A function reference.
    public var functionValue: LuaFunction? { if case .function(let f) = self { f } else { nil } }
    /// A table's sequence part.
    public var arrayValue: [LuaValue]? { tableValue?.array }
    /// A table's string-keyed entries.
    public var dictionaryValue: [String: LuaValue]? { tableValue?.fields }

    /// `value[key]` for tables (nil otherwise).
    public subscript(key: String) -> LuaValue { tableValue?[key] ?? .nil }
    /// `value[index]` for tables (nil otherwise).
    public subscript(index: Int) -> LuaValue { tableValue?[.integer(index)] ?? .nil }
}

/// Lua's `%.14g` rendering of a float.
func luaNumberText(_ d: Double) -> String {
    if d.isNaN { return d.sign == .minus ? "-nan" : "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    var s = String(format14g: d)
    if !s.contains(where: { $0 == "." || $0 == "e" || $0 == "n" || $0 == "i" }) { s += ".0" }
    return s
}

extension String {
    init(format14g d: Double) {
        var buf = [CChar](repeating: 0, count: 64)
        _ = withVaList([d]) { vsnprintf(&buf, buf.count, "%.14g", $0) }
        self.init(cBuffer: buf)
    }
}

extension LuaValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .nil: "nil"
        case .boolean(let b): b ? "true" : "false"
        case .integer(let i): String(i)
        case .number(let d): luaNumberText(d)
        case .string(let s): s.string
        case .table(let t): "table(\(t.array.count) + \(t.hash.count))"
        case .function: "function"
        case .userdata(let r): r.typeName
        }
    }
}

/// A Swift type with a Lua representation.
public protocol LuaRepresentable {
    var luaValue: LuaValue { get }
}

/// A Swift type that can be made from a Lua value.
public protocol LuaConvertible {
    init?(luaValue: LuaValue)
}

extension LuaValue: LuaRepresentable, LuaConvertible {
    public var luaValue: LuaValue { self }
    public init?(luaValue: LuaValue) { self = luaValue }
}
extension Bool: LuaRepresentable, LuaConvertible {
    public var luaValue: LuaValue { .boolean(self) }
    public init?(luaValue: LuaValue) { guard let b = luaValue.boolValue else { return nil }; self = b }
}
extension Int: LuaRepresentable, LuaConvertible {
    public var luaValue: LuaValue { .integer(self) }
    public init?(luaValue: LuaValue) { guard let i = luaValue.intValue else { return nil }; self = i }
}
extension Double: LuaRepresentable, LuaConvertible {
    public var luaValue: LuaValue { .number(self) }
    public init?(luaValue: LuaValue) { guard let d = luaValue.doubleValue else { return nil }; self = d }
}
extension String: LuaRepresentable, LuaConvertible {
    public var luaValue: LuaValue { .string(LuaString(self)) }
    public init?(luaValue: LuaValue) { guard let s = luaValue.stringValue else { return nil }; self = s }
}
extension Array: LuaRepresentable where Element: LuaRepresentable {
    public var luaValue: LuaValue { LuaValue(map(\.luaValue)) }
}
extension Array: LuaConvertible where Element: LuaConvertible {
    public init?(luaValue: LuaValue) {
        guard let t = luaValue.tableValue, t.hash.isEmpty else { return nil }
        var out: [Element] = []
        for v in t.array { guard let e = Element(luaValue: v) else { return nil }; out.append(e) }
        self = out
    }
}
extension Dictionary: LuaRepresentable where Key == String, Value: LuaRepresentable {
    public var luaValue: LuaValue { LuaValue(mapValues(\.luaValue)) }
}
extension Dictionary: LuaConvertible where Key == String, Value: LuaConvertible {
    public init?(luaValue: LuaValue) {
        guard let t = luaValue.tableValue else { return nil }
        var out: [String: Value] = [:]
        for (k, v) in t.hash {
            guard case .string(let s) = k, let e = Value(luaValue: v) else { return nil }
            out[s.string] = e
        }
        guard t.array.isEmpty else { return nil }
        self = out
    }
}
extension Optional: LuaRepresentable where Wrapped: LuaRepresentable {
    public var luaValue: LuaValue { self?.luaValue ?? .nil }
}
extension Optional: LuaConvertible where Wrapped: LuaConvertible {
    public init?(luaValue: LuaValue) {
        if luaValue == .nil { self = .none; return }
        guard let w = Wrapped(luaValue: luaValue) else { return nil }
        self = .some(w)
    }
}

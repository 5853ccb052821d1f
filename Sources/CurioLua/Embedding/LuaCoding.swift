/// Encodes `Encodable` values as ``LuaValue``s: structs and dictionaries become
/// tables with string keys, arrays become sequences, optionals that are nil are
/// left out, integers stay integers.
///
/// ```swift
/// struct Event: Codable { var name: String; var size: Int }
/// let v = try LuaEncoder().encode(Event(name: "x", size: 3))  // {name = "x", size = 3}
/// let e = try LuaDecoder().decode(Event.self, from: v)
/// ```
public struct LuaEncoder: Sendable {
    public init() {}

    /// The Lua value of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> LuaValue {
        let root = Node()
        try value.encode(to: Enc(node: root, codingPath: []))
        return root.value
    }
}

/// Decodes ``LuaValue``s into `Decodable` types (the inverse of ``LuaEncoder``).
/// Numbers convert exactly (a float with a fraction is no `Int`; an out-of-range
/// number is an error, never a trap); a missing key or nil is `nil` for optionals.
public struct LuaDecoder: Sendable {
    public init() {}

    /// A `T` read from `value`.
    public func decode<T: Decodable>(_ type: T.Type, from value: LuaValue) throws -> T {
        try T(from: Dec(value: value, codingPath: []))
    }
}

// MARK: - encoding: a tree of nodes, folded into a LuaValue at the end

private final class Node {
    enum Kind { case value(LuaValue), keyed([String: Node]), unkeyed([Node]) }
    var kind = Kind.value(.nil)
    var value: LuaValue {
        switch kind {
        case .value(let v): return v
        case .keyed(let d):
            var t = LuaTable()
            for (k, n) in d { t[k] = n.value }
            return .table(t)
        case .unkeyed(let a):
            return .table(LuaTable(array: a.map(\.value)))
        }
    }
}

private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init(intValue: Int) { stringValue = String(intValue); self.intValue = intValue }
}

private struct Enc: Encoder {
    let node: Node
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .keyed = node.kind {} else { node.kind = .keyed([:]) }
        return KeyedEncodingContainer(KeyedEnc<Key>(node: node, codingPath: codingPath))
    }
    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .unkeyed = node.kind {} else { node.kind = .unkeyed([]) }
        return UnkeyedEnc(node: node, codingPath: codingPath)
    }
    func singleValueContainer() -> any SingleValueEncodingContainer { SingleEnc(node: node, codingPath: codingPath) }
}

private func encodeValue<T: Encodable>(_ v: T, into node: Node, path: [any CodingKey]) throws {
    switch v {
    case let x as LuaValue: node.kind = .value(x)
    case let x as [UInt8]: node.kind = .value(.string(LuaString(bytes: x)))
    default: try v.encode(to: Enc(node: node, codingPath: path))
    }
}

private struct KeyedEnc<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: Node
    var codingPath: [any CodingKey]
    private func child(_ key: Key) -> Node {
        let n = Node()
        if case .keyed(var d) = node.kind { d[key.stringValue] = n; node.kind = .keyed(d) }
        return n
    }
    mutating func encodeNil(forKey key: Key) throws {}
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try encodeValue(value, into: child(key), path: codingPath + [key])
    }
    mutating func nestedContainer<N: CodingKey>(keyedBy: N.Type, forKey key: Key) -> KeyedEncodingContainer<N> {
        Enc(node: child(key), codingPath: codingPath + [key]).container(keyedBy: N.self)
    }
    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        Enc(node: child(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { Enc(node: child(Key(stringValue: "super")!), codingPath: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { Enc(node: child(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedEnc: UnkeyedEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey]
    var count: Int { if case .unkeyed(let a) = node.kind { a.count } else { 0 } }
    private func next() -> Node {
        let n = Node()
        if case .unkeyed(var a) = node.kind { a.append(n); node.kind = .unkeyed(a) }
        return n
    }
    mutating func encodeNil() throws { _ = next() } // a hole: Lua's length stops there
    mutating func encode<T: Encodable>(_ value: T) throws {
        try encodeValue(value, into: next(), path: codingPath + [AnyKey(intValue: count)])
    }
    mutating func nestedContainer<N: CodingKey>(keyedBy: N.Type) -> KeyedEncodingContainer<N> {
        Enc(node: next(), codingPath: codingPath).container(keyedBy: N.self)
    }
    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        Enc(node: next(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superEncoder() -> any Encoder { Enc(node: next(), codingPath: codingPath) }
}

private struct SingleEnc: SingleValueEncodingContainer {
    let node: Node
    var codingPath: [any CodingKey]
    mutating func encodeNil() throws { node.kind = .value(.nil) }
    mutating func encode(_ v: Bool) throws { node.kind = .value(.boolean(v)) }
    mutating func encode(_ v: String) throws { node.kind = .value(LuaValue(v)) }
    mutating func encode(_ v: Double) throws { node.kind = .value(.number(v)) }
    mutating func encode(_ v: Float) throws { node.kind = .value(.number(Double(v))) }
    mutating func encode(_ v: Int) throws { node.kind = .value(.integer(v)) }
    mutating func encode(_ v: Int8) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: Int16) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: Int32) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: Int64) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: UInt) throws { try int(v) }
    mutating func encode(_ v: UInt8) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: UInt16) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: UInt32) throws { node.kind = .value(.integer(Int(v))) }
    mutating func encode(_ v: UInt64) throws { try int(v) }
    private func int<I: BinaryInteger>(_ v: I) throws {
        guard let i = Int(exactly: v) else {
            throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "\(v) does not fit a Lua integer"))
        }
        node.kind = .value(.integer(i))
    }
    mutating func encode<T: Encodable>(_ value: T) throws { try encodeValue(value, into: node, path: codingPath) }
}

// MARK: - decoding

private struct Dec: Decoder {
    let value: LuaValue
    var codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "\(expected) expected, got \(value.typeName)"))
    }
    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard let t = value.tableValue else { throw mismatch("table") }
        return KeyedDecodingContainer(KeyedDec<Key>(table: t, codingPath: codingPath))
    }
    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard let t = value.tableValue else { throw mismatch("table") }
        return UnkeyedDec(values: t.array, codingPath: codingPath)
    }
    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleDec(d: self) }
}

private func decodeValue<T: Decodable>(_ type: T.Type, _ v: LuaValue, path: [any CodingKey]) throws -> T {
    if T.self == LuaValue.self { return v as! T }
    if T.self == [UInt8].self, case .string(let s) = v { return s.bytes as! T }
    return try T(from: Dec(value: v, codingPath: path))
}

private struct KeyedDec<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let table: LuaTable
    var codingPath: [any CodingKey]
    var allKeys: [Key] { table.fields.keys.compactMap { Key(stringValue: $0) } }
    private func get(_ key: Key) -> LuaValue {
        if let i = key.intValue, table[.integer(i)] != .nil { return table[.integer(i)] }
        return table[key.stringValue]
    }
    func contains(_ key: Key) -> Bool { get(key) != .nil }
    func decodeNil(forKey key: Key) throws -> Bool { get(key) == .nil }
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let v = get(key)
        if v == .nil, !(T.self == LuaValue.self) {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for '\(key.stringValue)'"))
        }
        return try decodeValue(type, v, path: codingPath + [key])
    }
    func nestedContainer<N: CodingKey>(keyedBy: N.Type, forKey key: Key) throws -> KeyedDecodingContainer<N> {
        try Dec(value: get(key), codingPath: codingPath + [key]).container(keyedBy: N.self)
    }
    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try Dec(value: get(key), codingPath: codingPath + [key]).unkeyedContainer()
    }
    func superDecoder() throws -> any Decoder { Dec(value: .table(table), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { Dec(value: get(key), codingPath: codingPath + [key]) }
}

private struct UnkeyedDec: UnkeyedDecodingContainer {
    let values: [LuaValue]
    var codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { values.count }
    var isAtEnd: Bool { currentIndex >= values.count }
    private mutating func next() throws -> LuaValue {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "sequence ended"))
        }
        defer { currentIndex += 1 }
        return values[currentIndex]
    }
    mutating func decodeNil() throws -> Bool {
        if !isAtEnd, values[currentIndex] == .nil { currentIndex += 1; return true }
        return isAtEnd
    }
    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        let i = currentIndex
        return try decodeValue(type, next(), path: codingPath + [AnyKey(intValue: i)])
    }
    mutating func nestedContainer<N: CodingKey>(keyedBy: N.Type) throws -> KeyedDecodingContainer<N> {
        try Dec(value: next(), codingPath: codingPath).container(keyedBy: N.self)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try Dec(value: next(), codingPath: codingPath).unkeyedContainer()
    }
    mutating func superDecoder() throws -> any Decoder { Dec(value: try next(), codingPath: codingPath) }
}

private struct SingleDec: SingleValueDecodingContainer {
    let d: Dec
    var codingPath: [any CodingKey] { d.codingPath }
    func decodeNil() -> Bool { d.value == .nil }
    func decode(_ type: Bool.Type) throws -> Bool { guard let b = d.value.boolValue else { throw d.mismatch("boolean") }; return b }
    func decode(_ type: String.Type) throws -> String {
        guard case .string(let s) = d.value else { throw d.mismatch("string") }
        return s.string
    }
    func decode(_ type: Double.Type) throws -> Double { guard let x = d.value.doubleValue else { throw d.mismatch("number") }; return x }
    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }
    private func int<I: FixedWidthInteger>(_ t: I.Type) throws -> I {
        guard let x = d.value.intValue else {
            throw d.value.doubleValue != nil ? d.mismatchInteger() : d.mismatch("integer")
        }
        guard let v = I(exactly: x) else {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(x) does not fit \(I.self)"))
        }
        return v
    }
    func decode(_ type: Int.Type) throws -> Int { try int(Int.self) }
    func decode(_ type: Int8.Type) throws -> Int8 { try int(Int8.self) }
    func decode(_ type: Int16.Type) throws -> Int16 { try int(Int16.self) }
    func decode(_ type: Int32.Type) throws -> Int32 { try int(Int32.self) }
    func decode(_ type: Int64.Type) throws -> Int64 { try int(Int64.self) }
    func decode(_ type: UInt.Type) throws -> UInt { try int(UInt.self) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try int(UInt8.self) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try int(UInt16.self) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try int(UInt32.self) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try int(UInt64.self) }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decodeValue(type, d.value, path: codingPath) }
}

private extension Dec {
    func mismatchInteger() -> DecodingError {
        .typeMismatch(Int.self, .init(codingPath: codingPath, debugDescription: "number has no integer representation"))
    }
}

import Logging

/// The libraries a runtime's scripts see (see ``LuaHost/Configuration/libraries``).
public struct LuaLibraries: OptionSet, Sendable, Hashable {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// The base functions (`print`, `pairs`, `pcall`, `load` of text...), always given.
    public static let base = LuaLibraries(rawValue: 1 << 0)
    /// The `coroutine` library.
    public static let coroutine = LuaLibraries(rawValue: 1 << 1)
    /// The `table` library.
    public static let table = LuaLibraries(rawValue: 1 << 2)
    /// The `string` library.
    public static let string = LuaLibraries(rawValue: 1 << 3)
    /// The `math` library.
    public static let math = LuaLibraries(rawValue: 1 << 4)
    /// The `utf8` library.
    public static let utf8 = LuaLibraries(rawValue: 1 << 5)
    /// `os.time`, `os.clock`, `os.date`, `os.difftime` only.
    public static let osTime = LuaLibraries(rawValue: 1 << 6)
    /// All of `os` (`execute`, `remove`, `exit`, `getenv`...).
    public static let os = LuaLibraries(rawValue: 1 << 7)
    /// `io`, `dofile`, `loadfile`.
    public static let io = LuaLibraries(rawValue: 1 << 8)
    /// The `debug` library.
    public static let debug = LuaLibraries(rawValue: 1 << 9)
    /// The `package` table, `package.loadlib` and C modules.
    public static let nativeModules = LuaLibraries(rawValue: 1 << 10)
    /// `load` of precompiled (binary) chunks.
    public static let binaryChunks = LuaLibraries(rawValue: 1 << 11)
    /// `curio` and its modules (tasks, time, sync, queues, sockets, files).
    public static let curio = LuaLibraries(rawValue: 1 << 12)
    /// `curio.subprocess`.
    public static let subprocess = LuaLibraries(rawValue: 1 << 13)

    /// What a plugin gets by default: pure computation, time, and curio, but no
    /// `io`, `os` beyond time/clock, `debug`, native modules, binary chunks nor
    /// subprocesses.
    public static let plugin: LuaLibraries = [.base, .coroutine, .table, .string, .math, .utf8, .osTime, .curio]
    /// Everything: a trusted script (the globals are the state's own).
    public static let all = LuaLibraries(rawValue: (1 << 14) - 1)

    /// The names embed.lua knows.
    var names: [String] {
        let table: [(LuaLibraries, String)] = [
            (.coroutine, "coroutine"), (.table, "table"), (.string, "string"), (.math, "math"),
            (.utf8, "utf8"), (.osTime, "ostime"), (.os, "os"), (.io, "io"), (.debug, "debug"),
            (.nativeModules, "native"), (.binaryChunks, "binary"), (.curio, "curio"),
            (.subprocess, "subprocess"),
        ]
        return table.filter { contains($0.0) }.map(\.1)
    }
}

extension LuaHost {
    /// How a runtime is set up. Every field has a default.
    public struct Configuration: Sendable {
        /// A name for the runtime: its thread's name and the `lua.runtime` metadata of
        /// its log messages.
        public var name: String
        /// The libraries scripts see (default ``LuaLibraries/plugin``). Scripts run
        /// in their own global environment unless this is ``LuaLibraries/all``.
        public var libraries: LuaLibraries
        /// A cap on the bytes the Lua state may hold (nil: none). An allocation past
        /// it fails with "not enough memory" in the task that asked for it.
        public var memoryLimit: Int?
        /// The Lua VM instructions one call (``LuaHost/call(_:_:options:)``) may run
        /// (nil: no limit). Past it the call's task fails with `BudgetExceeded`.
        public var instructionBudget: Int?
        /// How long one call may take (nil: no limit). Past it the call's task fails
        /// with `TaskTimeout`, even if it never blocks.
        public var callTimeout: Duration?
        /// Where `require` looks for script modules (Lua's `package.path` syntax;
        /// nil: the process's `package.path`).
        public var packagePath: String?
        /// Where crash reports, script `print` output, limit violations and
        /// lifecycle messages go.
        public var logger: Logger
        /// Every this many VM instructions a running task lets the others run and
        /// checks its limits (0: never, which also disables timeouts of code that
        /// never blocks).
        public var preemptionInterval: Int
        /// How long a thread waiting for the other side of a round trip spins
        /// before it sleeps (default 50 µs; zero: never spins). The runtime's
        /// kernel spins on its inbox before sleeping while results of Swift
        /// functions are outstanding or requests just came, and a Swift caller
        /// that is the only one awaiting a call spins for its result: a quick
        /// round trip then costs no thread wake-up (see docs/embedding.md,
        /// "Performance"). An idle runtime never spins.
        public var wakeupSpin: Duration

        /// A configuration; every argument has the default described on its field.
        public init(name: String = "lua", libraries: LuaLibraries = .plugin, memoryLimit: Int? = nil,
                    instructionBudget: Int? = nil, callTimeout: Duration? = nil, packagePath: String? = nil,
                    logger: Logger = Logger(label: "curio-lua"), preemptionInterval: Int = 10_000,
                    wakeupSpin: Duration = .microseconds(50)) {
            self.name = name
            self.libraries = libraries
            self.memoryLimit = memoryLimit
            self.instructionBudget = instructionBudget
            self.callTimeout = callTimeout
            self.packagePath = packagePath
            self.logger = logger
            self.preemptionInterval = preemptionInterval
            self.wakeupSpin = wakeupSpin
        }
    }
}

/// Limits for one call, overriding the runtime's configuration.
public struct LuaCallOptions: Sendable {
    /// The VM instructions the call may run (nil: the configuration's).
    public var instructionBudget: Int?
    /// How long the call may take (nil: the configuration's).
    public var timeout: Duration?
    /// Limits for one call (nil: the runtime's configuration).
    public init(instructionBudget: Int? = nil, timeout: Duration? = nil) {
        self.instructionBudget = instructionBudget
        self.timeout = timeout
    }
}

extension Duration {
    var seconds: Double {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) * 1e-18
    }
}

/// Misuse of a ``LuaHost``.
public enum LuaHostError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The runtime has shut down (or is shutting down).
    case closed
    /// `start()` or `run` was called twice, or `register` after the start.
    case alreadyStarted
    /// The runtime could not be created.
    case cannotCreate(String)
    /// A reference of another runtime was passed to this one.
    case foreignValue
    /// A Lua function could not be registered or a value not pushed (out of memory).
    case outOfMemory(String)

    public var description: String {
        switch self {
        case .closed: "the Lua runtime is closed"
        case .alreadyStarted: "the Lua runtime has already started"
        case .cannotCreate(let m): "cannot create the Lua runtime: \(m)"
        case .foreignValue: "a Lua reference of another runtime was passed"
        case .outOfMemory(let m): "Lua runtime out of memory: \(m)"
        }
    }
}

/// A Lua error, as a call from Swift sees it.
public struct LuaError: Error, Sendable, CustomStringConvertible {
    /// The curio error kind (`"TaskTimeout"`, `"BudgetExceeded"`, `"SwiftError"`...),
    /// or nil for a plain Lua error (a string).
    public let kind: String?
    /// The error's text (`tostring` of the error value).
    public let message: String
    /// Lua's traceback of where the error was raised.
    public let traceback: String
    /// The error value itself.
    public let value: LuaValue

    /// Which runtime limit stopped the call, if one did.
    public var limit: Limit? {
        switch kind {
        case "TaskTimeout", "TimeoutCancellationError": .time
        case "BudgetExceeded": .instructions
        default: message.contains("not enough memory") ? .memory : nil
        }
    }

    /// The limits of ``LuaHost/Configuration``.
    public enum Limit: Sendable { case time, instructions, memory }

    public var description: String { message }
}

// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "curio-lua",
    products: [
        .library(name: "CurioKernel", targets: ["CurioKernel"]),
        .library(name: "CurioLua", targets: ["CurioLua"]),
        .executable(name: "curio-lua", targets: ["curio-lua"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // Debian's liblua5.4-dev and libssl-dev, found through pkg-config.
        .systemLibrary(name: "CLua54", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // Syscalls and macros Swift cannot call directly (epoll's packed struct, signals).
        .target(name: "CSys"),
        // Everything that touches Lua's API in a way that may raise (longjmp) lives in C.
        .target(name: "CLuaShim", dependencies: ["CLua54", "COpenSSL"]),
        .target(name: "CurioKernel", dependencies: ["CSys"]),
        .target(name: "CurioLua", dependencies: ["CurioKernel", "CLuaShim", "CLua54", "CSys",
                                                 .product(name: "Logging", package: "swift-log")]),
        // The REPL's line editing: Debian's libedit (libedit-dev), linked by the CLI only.
        .target(name: "CLineEdit", dependencies: ["CLua54"], linkerSettings: [.linkedLibrary("edit")]),
        // The LuaLS stubs of types/, embedded for `curio-lua --types DIR`.
        .target(name: "CStubs", dependencies: ["CLua54"]),
        .executableTarget(name: "curio-lua", dependencies: ["CurioLua", "CSys", "CLineEdit", "CStubs"]),
        // benchmarks/embed.sh: Swift functions and calls against a plain lua_CFunction.
        .target(name: "CEmbedBench", dependencies: ["CLua54"], path: "benchmarks/embed/CEmbedBench"),
        .executableTarget(name: "embed-bench", dependencies: ["CurioLua", "CEmbedBench"], path: "benchmarks/embed/Sources"),
        // scripts/fuzz.sh: the API-argument libFuzzer target (a corpus replay tool otherwise).
        .executableTarget(name: "curio-api-fuzz", dependencies: ["CurioLua", "CLua54"], path: "Tests/fuzz/api"),
        .testTarget(name: "CurioKernelTests", dependencies: ["CurioKernel"]),
        .testTarget(name: "CurioLuaTests", dependencies: ["CurioLua", "CSys"]),
    ],
    swiftLanguageModes: [.v6]
)

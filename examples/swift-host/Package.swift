// swift-tools-version:6.0
// An example Swift host for curio-lua plugins: one dependency, the curio-lua
// package (here by path; in your project, by its git URL).
import PackageDescription

let package = Package(
    name: "swift-host",
    dependencies: [
        .package(name: "curio-lua", path: "../.."),
    ],
    targets: [
        .executableTarget(name: "SwiftHost", dependencies: [.product(name: "CurioLua", package: "curio-lua")]),
    ],
    swiftLanguageModes: [.v6]
)

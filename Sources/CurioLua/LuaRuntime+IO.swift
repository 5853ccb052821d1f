import CLua54
import CLuaShim
import CurioKernel

/// Kernel calls numbered 100 and above: I/O services (name resolution on the
/// thread pool, ...). Same rules as `kcall`: only non-raising Lua API calls.
extension LuaRuntime {
    func extensionCall(_ L: OpaquePointer, op: Int, nargs: Int32) -> Int32 {
        fail("curio: kernel call \(op) not available")
    }
}

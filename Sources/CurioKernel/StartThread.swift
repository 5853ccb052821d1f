#if canImport(Glibc)
import Glibc
#endif
import CSys

/// Starts a detached OS thread running `body`, named `name` (its first 15 bytes,
/// as `ps -L` shows it), with a stack of `stackSize` bytes (0: the system's).
public func startThread(name: String, stackSize: Int = 0, _ body: @escaping @Sendable () -> Void) {
    final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
    var tid = pthread_t()
    var attr = pthread_attr_t()
    pthread_attr_init(&attr)
    pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
    if stackSize > 0 { pthread_attr_setstacksize(&attr, stackSize) }
    let named: @Sendable () -> Void = {
        csys_thread_name(name)
        body()
    }
    let box = Unmanaged.passRetained(Box(named)).toOpaque()
    pthread_create(&tid, &attr, { arg in
        Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    pthread_attr_destroy(&attr)
}

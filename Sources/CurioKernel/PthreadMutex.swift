#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex. Used where threads meet (the inbox, the
/// thread pool) instead of Synchronization.Mutex, whose futex-based lock the
/// thread sanitizer cannot see: with pthread, `-sanitize=thread` runs check
/// these paths instead of reporting false races.
final class PthreadMutex<Value>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

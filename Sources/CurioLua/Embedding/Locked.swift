#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex. (Synchronization.Mutex would do, but on Linux
/// it waits with raw futex calls that ThreadSanitizer does not see as
/// synchronization; the threaded tests must pass under -sanitize=thread.)
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

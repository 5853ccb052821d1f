#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, for state where threads meet (the kernel's
/// inbox, the thread pool, the embedding host). Synchronization.Mutex would do,
/// but on Linux it waits with raw futex calls that ThreadSanitizer does not see as
/// synchronization; the threaded tests must pass under -sanitize=thread.
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// A value guarded by a pthread mutex, for state shared with other threads.
/// Swift's `Mutex` locks with a raw futex that ThreadSanitizer does not see, so a
/// TSan run reported races on everything it guards; TSan intercepts pthread
/// mutexes, so with this lock only a real race shows (scripts/sanitize.sh).
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}

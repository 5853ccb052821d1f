#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A lazily grown pool of OS threads for blocking work (name resolution, files,
/// worker Lua states). Results go back through the kernel's inbox.
final class ThreadPool: Sendable {
    typealias Job = (token: Int, work: @Sendable () -> any Sendable)
    private struct State {
        var jobs: [Job] = []
        var idle = 0
        var threads = 0
        var closing = false
    }

    private let maxThreads: Int
    private let inbox: KernelInbox
    private let state = Mutex(State())
    private let signal = Semaphore()

    init(maxThreads: Int, inbox: KernelInbox) {
        self.maxThreads = maxThreads
        self.inbox = inbox
    }

    func submit(token: Int, _ work: @escaping @Sendable () -> any Sendable) {
        let spawn = state.withLock { s -> Bool in
            s.jobs.append((token, work))
            // More queued jobs than idle threads to take them: grow. (An idle
            // thread already posted for an earlier job is not free: two jobs that
            // wait for each other, as the two ends of a FIFO do, must not share one.)
            if s.jobs.count > s.idle && s.threads < maxThreads {
                s.threads += 1
                return true
            }
            return false
        }
        if spawn { startThread() }
        signal.post()
    }

    private func startThread() {
        let box = Unmanaged.passRetained(self)
        var tid = pthread_t()
        var attr = pthread_attr_t()
        pthread_attr_init(&attr)
        pthread_attr_setdetachstate(&attr, Int32(PTHREAD_CREATE_DETACHED))
        pthread_create(&tid, &attr, { arg in
            let pool = Unmanaged<ThreadPool>.fromOpaque(arg!).takeRetainedValue()
            pool.workLoop()
            return nil
        }, box.toOpaque())
        pthread_attr_destroy(&attr)
    }

    /// Lets every thread finish its current job and exit (the kernel is gone).
    func shutdown() {
        let n = state.withLock { s -> Int in
            s.closing = true
            return s.threads
        }
        for _ in 0..<n { signal.post() }
    }

    private func workLoop() {
        while true {
            state.withLock { $0.idle += 1 }
            signal.wait()
            let (job, exit) = state.withLock { s -> (Job?, Bool) in
                s.idle -= 1
                if s.closing && s.jobs.isEmpty {
                    s.threads -= 1
                    return (nil, true)
                }
                return (s.jobs.isEmpty ? nil : s.jobs.removeFirst(), false)
            }
            if exit { return }
            guard let job else { continue }
            let result = job.work()
            inbox.post(token: job.token, result)
        }
    }
}

/// A counting semaphore for worker threads (POSIX sem_t).
final class Semaphore: @unchecked Sendable {
    private let sem = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    init(_ value: UInt32 = 0) { sem_init(sem, 0, value) }
    deinit { sem_destroy(sem); sem.deallocate() }
    func post() { sem_post(sem) }
    func wait() { while sem_wait(sem) != 0 {} }
}

import CurioKernel
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The thread that runs a runtime's `async` Swift functions (their Tasks prefer
/// this executor). After its last job it spins briefly before sleeping, as the
/// kernel does, so a Lua task calling async functions one after another costs no
/// thread wake-up per call: the global concurrent executor would wake one of its
/// threads (a futex) for every call. The functions' awaits on actors hop there
/// and back as usual; CPU-heavy work belongs in `.blocking` functions.
///
/// The thread ends once the host is closed and the last Task started here ended
/// (a Task refers to its executor without retaining it).
final class HostExecutor: TaskExecutor, @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let cond = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    // Under `mutex`:
    private var jobs: [UnownedJob] = []
    private var sleeping = false
    private var closed = false
    /// Tasks started on this executor that have not ended.
    private var live = 0
    /// Jobs queued: the spinning thread watches it without the lock.
    private let queued = Atomic<Int>(0)
    private let spin: Double
    /// Whether the thread that enqueues (the kernel's) runs on another CPU.
    private let enqueuerElsewhere: @Sendable () -> Bool

    init(name: String, spin: Double, enqueuerElsewhere: @escaping @Sendable () -> Bool) {
        self.spin = spin
        self.enqueuerElsewhere = enqueuerElsewhere
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(cond, nil)
        startThread(name: "\(name)-async", stackSize: 16 << 20) { [self] in loop() }
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let j = UnownedJob(job)
        pthread_mutex_lock(mutex)
        jobs.append(j)
        queued.add(1, ordering: .releasing)
        let wake = sleeping
        pthread_mutex_unlock(mutex)
        if wake { pthread_cond_signal(cond) }
    }

    /// A Task is about to start here (the kernel thread calls it before creating
    /// the Task) / has ended (its last statement).
    func taskStarting() { locked { live += 1 } }
    func taskEnded() {
        let wake = locked { () -> Bool in live -= 1; return live == 0 && closed }
        if wake { pthread_cond_signal(cond) }
    }

    /// The host closed: the thread ends once no Task of it is left.
    func close() {
        locked { closed = true }
        pthread_cond_signal(cond)
    }

    private func locked<R>(_ body: () -> R) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }

    private func loop() {
        var governor = SpinGovernor()
        var batch: [UnownedJob] = []
        pthread_mutex_lock(mutex)
        while true {
            if !jobs.isEmpty {
                swap(&jobs, &batch)
                queued.subtract(batch.count, ordering: .relaxed)
                pthread_mutex_unlock(mutex)
                for j in batch { j.runSynchronously(on: asUnownedTaskExecutor()) }
                batch.removeAll(keepingCapacity: true)
                // More work is likely soon (the next call of a Lua task): spin.
                if spin > 0 && governor.allows() {
                    let answered = spinForJobs()
                    governor.record(answered: answered)
                }
                pthread_mutex_lock(mutex)
                continue
            }
            if closed && live == 0 { break }
            sleeping = true
            pthread_cond_wait(cond, mutex)
            sleeping = false
        }
        pthread_mutex_unlock(mutex)
    }

    private func spinForJobs() -> Bool {
        spinWait(for: spin, until: { queued.load(ordering: .acquiring) > 0 }, while: enqueuerElsewhere)
    }
}

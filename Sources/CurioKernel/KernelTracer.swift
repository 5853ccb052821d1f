/// Watches a kernel's steps (diagnostics: schedtrace, traptrace, longblock). Both
/// calls run on the kernel thread, outside the task's step; `suspended` runs
/// before the kernel acts on the trap, so the task is still registered (even when
/// the trap is `.exit`).
public protocol KernelTracer: AnyObject {
    /// `t` is about to run (resumed with `r`).
    func resuming(_ t: TaskRecord, _ r: Resumption, kernel: Kernel)
    /// `t` ran for `ran` seconds and yielded `trap`.
    func suspended(_ t: TaskRecord, _ trap: Trap, ran: Double, kernel: Kernel)
}

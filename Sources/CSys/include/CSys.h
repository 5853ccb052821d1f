// CSys: thin wrappers over Linux syscalls whose C types Swift imports badly
// (epoll_event is a packed struct on x86_64) and over async-signal-safe signal plumbing.
#ifndef CSYS_H
#define CSYS_H
#include <stdint.h>

typedef struct csys_event {
    uint32_t events;
    uint64_t data;
} csys_event;

enum {
    CSYS_EPOLLIN = 0x001,
    CSYS_EPOLLOUT = 0x004,
    CSYS_EPOLLERR = 0x008,
    CSYS_EPOLLHUP = 0x010,
    CSYS_EPOLLRDHUP = 0x2000,
    CSYS_EPOLLET = (int)(1u << 31),
};

int csys_epoll_create(void);
/// op: 1 add, 2 del, 3 mod (EPOLL_CTL_*). Returns 0 or -errno.
int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits; fills out[0..n). Returns n, or -errno (EINTR is reported as 0).
int csys_epoll_wait(int epfd, csys_event *out, int max, int timeout_ms);

int csys_eventfd(void);
void csys_eventfd_signal(int fd);
void csys_eventfd_drain(int fd);

/// A spin-wait hint to the CPU (x86 `pause`).
static inline void csys_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/// One step of a bounded spin-wait (a `pause`; the clock is read every 16 steps).
/// Returns 0 once `end` (csys_monotonic) has passed. (No sched_yield: on a loaded
/// machine it hands the CPU to any other process for a whole time slice.)
int csys_spin_step(unsigned *step, double end);

/// Names the calling thread (its first 15 bytes).
void csys_thread_name(const char *name);

/// The CPU the calling thread runs on (sched_getcpu; -1 if unknown).
int csys_cpu(void);

/// Monotonic clock in seconds.
double csys_monotonic(void);

/// Signal plumbing: a handler that counts deliveries per signal and writes to a
/// wake-up fd. The process has one such table (signals are process-wide); the fd is
/// set by the single owner that installs handlers (the CLI or an embedding host).
int csys_signal_watch(int sig, int wake_fd);
int csys_signal_restore(int sig);
/// Returns how many times `sig` arrived since the last call, and resets it.
int csys_signal_take(int sig);
/// Makes the handler _exit(status) on the `count`th delivery of `sig` from now
/// (0: never), whatever the process is doing.
void csys_signal_exit_after(int sig, int count, int status);
/// glibc's symbolic name of a getaddrinfo error ("EAI_ADDRFAMILY"), GNU ones included.
const char *csys_gai_name(int code);
/// Non-zero if any watched signal arrived since the last call (then resets).
int csys_signal_any(void);

int csys_errno(void);
/// Writes a string to standard error / output (unbuffered), flushing stdio first.
void csys_eprint(const char *s);
void csys_flush_stdout(void);
int csys_close(int fd);
int csys_set_nonblocking(int fd, int on);
/// Asks the kernel to send `sig` to this process when its parent dies (prctl
/// PR_SET_PDEATHSIG). Returns 0 or -errno.
int csys_set_parent_death_signal(int sig);
#endif

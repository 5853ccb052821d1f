#define _GNU_SOURCE
#include "CSys.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

int csys_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int csys_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev) == 0 ? 0 : -errno;
}

int csys_epoll_wait(int epfd, csys_event *out, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

int csys_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

void csys_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

void csys_eventfd_drain(int fd) {
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}

double csys_monotonic(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

#define NSIG_MAX 65
static atomic_int sig_counts[NSIG_MAX];
static atomic_int sig_fds[NSIG_MAX];
static struct sigaction sig_saved[NSIG_MAX];
static atomic_int sig_saved_valid[NSIG_MAX];

static atomic_int sig_any;
/* Exit at once, from the handler, on the Nth delivery since armed: a second
   Ctrl-C ends the process even while Lua code runs without blocking. */
static atomic_int sig_exit_after[NSIG_MAX];
static atomic_int sig_exit_status[NSIG_MAX];
static atomic_int sig_since_armed[NSIG_MAX];

int csys_signal_any(void) { return atomic_exchange(&sig_any, 0); }

static void on_signal(int sig) {
    int saved = errno;
    if (sig > 0 && sig < NSIG_MAX) {
        atomic_fetch_add(&sig_counts[sig], 1);
        int after = atomic_load(&sig_exit_after[sig]);
        if (after > 0 && atomic_fetch_add(&sig_since_armed[sig], 1) + 1 >= after)
            _exit(atomic_load(&sig_exit_status[sig]));
        atomic_store(&sig_any, 1);
        int fd = atomic_load(&sig_fds[sig]);
        if (fd >= 0) csys_eventfd_signal(fd);
    }
    errno = saved;
}

int csys_signal_watch(int sig, int wake_fd) {
    if (sig <= 0 || sig >= NSIG_MAX) return -EINVAL;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    atomic_store(&sig_fds[sig], wake_fd);
    struct sigaction old;
    if (sigaction(sig, &sa, &old) != 0) return -errno;
    if (!atomic_load(&sig_saved_valid[sig])) {
        sig_saved[sig] = old;
        atomic_store(&sig_saved_valid[sig], 1);
    }
    return 0;
}

int csys_signal_restore(int sig) {
    if (sig <= 0 || sig >= NSIG_MAX) return -EINVAL;
    if (atomic_load(&sig_saved_valid[sig])) {
        sigaction(sig, &sig_saved[sig], NULL);
        atomic_store(&sig_saved_valid[sig], 0);
    }
    atomic_store(&sig_fds[sig], -1);
    return 0;
}

void csys_signal_exit_after(int sig, int count, int status) {
    if (sig <= 0 || sig >= NSIG_MAX) return;
    atomic_store(&sig_exit_status[sig], status);
    atomic_store(&sig_since_armed[sig], 0);
    atomic_store(&sig_exit_after[sig], count > 0 ? count : 0);
}

int csys_signal_take(int sig) {
    if (sig <= 0 || sig >= NSIG_MAX) return 0;
    return atomic_exchange(&sig_counts[sig], 0);
}

int csys_errno(void) { return errno; }
int csys_close(int fd) { return close(fd) == 0 ? 0 : -errno; }

int csys_set_nonblocking(int fd, int on) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return -errno;
    fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return fcntl(fd, F_SETFL, fl) == 0 ? 0 : -errno;
}

#include <stdio.h>
void csys_eprint(const char *s) { fflush(stdout); fputs(s, stderr); fflush(stderr); }
void csys_flush_stdout(void) { fflush(stdout); }

const char *csys_gai_name(int code) {
    switch (code) {
#define N(x) case x: return #x;
    N(EAI_BADFLAGS) N(EAI_NONAME) N(EAI_AGAIN) N(EAI_FAIL) N(EAI_FAMILY) N(EAI_SOCKTYPE)
    N(EAI_SERVICE) N(EAI_MEMORY) N(EAI_SYSTEM) N(EAI_OVERFLOW)
#ifdef EAI_NODATA
    N(EAI_NODATA) N(EAI_ADDRFAMILY) N(EAI_INPROGRESS) N(EAI_CANCELED) N(EAI_NOTCANCELED)
    N(EAI_ALLDONE) N(EAI_INTR) N(EAI_IDN_ENCODE)
#endif
#undef N
    default: return "EAI_UNKNOWN";
    }
}

int csys_spin_step(unsigned *step, double end) {
    unsigned n = (*step)++;
    csys_cpu_relax();
    return (n & 15) != 15 || csys_monotonic() < end;
}

int csys_cpu(void) { return sched_getcpu(); }

void csys_thread_name(const char *name) {
    char buf[16];
    snprintf(buf, sizeof buf, "%s", name);
    prctl(PR_SET_NAME, buf, 0, 0, 0);
}

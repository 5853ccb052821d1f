/*
 * loadgen.c: the echo benchmarks' load client (epoll, one thread).
 *
 *   loadgen HOST PORT CONNS SIZE SECS [PIPELINE]
 *
 * CONNS connections each send PIPELINE messages of SIZE bytes, read the whole
 * echo back (compared byte for byte), and start again. Every connection first
 * makes one round trip that is not measured (warm-up, at most 10 s); then the
 * counters start and the load runs for SECS seconds. Output, one line:
 *
 *   msgs_per_s=N p50_us=N p99_us=N conns=N size=N errors=N [srv_cpu=P%] cli_cpu=P%
 *
 * A latency sample is one round trip: first byte sent .. last echoed byte read.
 * srv_cpu (when env SERVER_PID is set) is that process's user+system CPU time over
 * the window as a share of one core, read from /proc; cli_cpu is ours. errors
 * counts failed connections, early EOFs, resets and wrong echoes. An alarm ends
 * the process SECS + 30 s after start whatever happens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    int fd;
    int alive;
    int warm;          /* finished the warm-up round trip */
    size_t sent, got;  /* bytes of the current round */
    uint64_t started;  /* ns, first byte of this round */
} Conn;

static size_t msg_bytes;      /* SIZE * PIPELINE per round */
static unsigned char *pattern;
static unsigned char *scratch;

/* latencies in microseconds: exact below 1 s, then 1 ms steps up to 1000 s */
#define LAT_US 1000000
#define LAT_MS 1000000
static uint32_t *lat_us, *lat_ms;
static uint64_t nsamples;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void record(uint64_t ns) {
    uint64_t us = ns / 1000;
    if (us < LAT_US) lat_us[us]++;
    else lat_ms[us / 1000 < LAT_MS ? us / 1000 : LAT_MS - 1]++;
    nsamples++;
}

static uint64_t percentile(double p) {
    if (nsamples == 0) return 0;
    uint64_t want = (uint64_t)(p * (double)nsamples), seen = 0;
    if (want >= nsamples) want = nsamples - 1;
    for (uint64_t i = 0; i < LAT_US; i++)
        if ((seen += lat_us[i]) > want) return i;
    for (uint64_t i = 0; i < LAT_MS; i++)
        if ((seen += lat_ms[i]) > want) return i * 1000;
    return 0;
}

/* user+system CPU seconds of a process, from /proc/PID/stat fields 14 and 15 */
static double proc_cpu(const char *pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2) return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void drop(int ep, Conn *c, uint64_t *errors) {
    if (!c->alive) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->alive = 0;
    (*errors)++;
}

/* Sends what is left of this round; returns 0, or -1 if the connection failed. */
static int pump_send(Conn *c) {
    while (c->sent < msg_bytes) {
        ssize_t n = send(c->fd, pattern + c->sent, msg_bytes - c->sent, MSG_NOSIGNAL);
        if (n > 0) { c->sent += (size_t)n; continue; }
        if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT CONNS SIZE SECS [PIPELINE]\n", argv[0]);
        return 2;
    }
    const char *host = argv[1], *port = argv[2];
    long conns = atol(argv[3]), size = atol(argv[4]);
    double secs = atof(argv[5]);
    long pipeline = argc > 6 ? atol(argv[6]) : 1;
    if (conns < 1 || size < 1 || secs <= 0 || pipeline < 1 || conns > 1000000) {
        fprintf(stderr, "loadgen: CONNS, SIZE, SECS and PIPELINE must be positive\n");
        return 2;
    }
    alarm((unsigned)secs + 30);
    msg_bytes = (size_t)size * (size_t)pipeline;
    pattern = malloc(msg_bytes);
    scratch = malloc(msg_bytes);
    lat_us = calloc(LAT_US, sizeof *lat_us);
    lat_ms = calloc(LAT_MS, sizeof *lat_ms);
    Conn *cs = calloc((size_t)conns, sizeof *cs);
    if (!pattern || !scratch || !lat_us || !lat_ms || !cs) { perror("loadgen: malloc"); return 1; }
    for (size_t i = 0; i < msg_bytes; i++) pattern[i] = (unsigned char)('a' + (i * 7) % 26);

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) { fprintf(stderr, "loadgen: %s: %s\n", host, gai_strerror(rc)); return 1; }

    int ep = epoll_create1(0);
    uint64_t errors = 0, msgs = 0;
    for (long i = 0; i < conns; i++) {
        Conn *c = &cs[i];
        c->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
        if (c->fd < 0) { errors++; continue; }
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, ai->ai_addr, ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
            close(c->fd); errors++; continue;
        }
        c->alive = 1;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        c->started = now_ns();
    }
    freeaddrinfo(ai);

    /* Warm-up until every live connection made one round trip, or 10 s. */
    uint64_t t0 = now_ns(), warm_deadline = t0 + 10000000000ull;
    long warm = 0, live = 0;
    for (long i = 0; i < conns; i++) live += cs[i].alive;
    int measuring = 0;
    uint64_t window_start = 0, window_end = 0;
    double srv0 = 0, cli0 = 0;
    const char *srv_pid = getenv("SERVER_PID");

    struct epoll_event evs[512];
    for (;;) {
        uint64_t t = now_ns();
        if (!measuring && (warm >= live || t >= warm_deadline)) {
            for (long i = 0; i < conns; i++) if (cs[i].alive && !cs[i].warm) drop(ep, &cs[i], &errors);
            measuring = 1;
            msgs = 0;
            window_start = now_ns();
            window_end = window_start + (uint64_t)(secs * 1e9);
            srv0 = srv_pid ? proc_cpu(srv_pid) : 0;
            cli0 = self_cpu();
        }
        if (measuring && t >= window_end) break;
        int n = epoll_wait(ep, evs, 512, 50);
        if (n < 0 && errno != EINTR) { perror("loadgen: epoll_wait"); return 1; }
        for (int k = 0; k < n; k++) {
            Conn *c = evs[k].data.ptr;
            if (!c->alive) continue;
            if (evs[k].events & (EPOLLERR | EPOLLHUP) && !(evs[k].events & EPOLLIN)) { drop(ep, c, &errors); continue; }
            if (pump_send(c) < 0) { drop(ep, c, &errors); continue; }
            /* read everything available; a full echo finishes a round */
            for (;;) {
                size_t want = msg_bytes - c->got;
                ssize_t r = recv(c->fd, scratch, want, 0);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) break;
                    drop(ep, c, &errors); break;
                }
                if (r == 0 || (size_t)r > c->sent - c->got ||
                    memcmp(scratch, pattern + c->got, (size_t)r) != 0) {
                    drop(ep, c, &errors); break; /* EOF, more than was sent, or wrong bytes */
                }
                c->got += (size_t)r;
                if (c->got < msg_bytes) continue;
                uint64_t done = now_ns();
                if (!c->warm) { c->warm = 1; warm++; }
                else if (measuring && done <= window_end) { record(done - c->started); msgs += (uint64_t)pipeline; }
                c->sent = c->got = 0;
                c->started = done;
                if (pump_send(c) < 0) { drop(ep, c, &errors); break; }
            }
        }
    }
    double elapsed = (double)(now_ns() - window_start) / 1e9;
    double cli = (self_cpu() - cli0) / elapsed * 100;
    printf("msgs_per_s=%.0f p50_us=%llu p99_us=%llu conns=%ld size=%ld errors=%llu",
           (double)msgs / elapsed, (unsigned long long)percentile(0.50),
           (unsigned long long)percentile(0.99), conns, size, (unsigned long long)errors);
    if (srv_pid) {
        double srv1 = proc_cpu(srv_pid);
        if (srv0 >= 0 && srv1 >= 0) printf(" srv_cpu=%.0f%%", (srv1 - srv0) / elapsed * 100);
    }
    printf(" cli_cpu=%.0f%%\n", cli);
    return 0;
}

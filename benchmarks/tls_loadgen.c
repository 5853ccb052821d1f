/*
 * tls_loadgen.c: TLS load client for the TLS echo benchmarks (one thread, epoll,
 * non-blocking OpenSSL; no certificate checks, no session resumption).
 *
 *   tls_loadgen HOST PORT CONNECTIONS SIZE SECONDS          ping-pong mode
 *   tls_loadgen HOST PORT CONNECTIONS handshake SECONDS     handshake mode
 *
 * Ping-pong: each connection handshakes once, then writes SIZE bytes, reads the
 * echo back (checked byte for byte), and repeats; every connection first makes
 * one unmeasured round trip. Prints
 *   msgs_per_s=N p50_us=N p99_us=N conns=N size=N errors=N srv_cpu=P% cli_cpu=P%
 * Handshake: each connection connects, makes a full handshake, echoes one byte,
 * closes (close_notify) and starts over. Prints
 *   handshakes_per_s=N conns=N errors=N srv_cpu=P% cli_cpu=P% srv_us_per_hs=N
 * srv_cpu (with SERVER_PID in the environment) is the server's user+sys CPU over
 * the measured window as a share of one core; srv_rss0_kb / srv_rss1_kb its
 * resident memory at the window's start and end (a leak per connection shows in
 * a long handshake run). A hard alarm ends the process at
 * SECONDS + 40 s.
 *
 * Build: cc -O2 -o tls_loadgen tls_loadgen.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { HANDSHAKE, WRITING, READING };

typedef struct conn {
    int fd, state, warm;
    SSL *ssl;
    size_t off;     /* bytes written (WRITING) or read (READING) of this message */
    uint32_t seq;   /* varies each message's bytes */
    double t0;
} conn;

static SSL_CTX *ctx;
static struct sockaddr_in addr;
static int ep, size, hs_mode;
static unsigned char *msg, rbuf[65536];
static uint64_t msgs, handshakes, errors;
static uint32_t *lat;
static size_t nlat, caplat;
static int measuring;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double proc_cpu(const char *pid) { /* user+sys seconds of a process */
    char path[64], line[1024];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    char *p = strrchr(line, ')');
    unsigned long ut = 0, st = 0;
    if (p) sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long proc_rss_kb(const char *pid) { /* VmRSS of a process */
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%s/status", pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kb) == 1) break;
    fclose(f);
    return kb;
}

static double self_cpu(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void fill(uint32_t seq) {
    for (int i = 0; i < size; i++) msg[i] = (unsigned char)(seq * 7 + i);
}

static int open_conn(conn *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0 && errno != EINPROGRESS) return -1;
    c->ssl = SSL_new(ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_connect_state(c->ssl);
    c->state = HANDSHAKE;
    c->off = 0;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLET, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    return 0;
}

static void close_conn(conn *c, int polite) {
    if (polite) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
}

static int want(SSL *ssl) {
    int e = SSL_get_error(ssl, 0);
    return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE;
}

/* Runs a connection as far as it can go; -1 on error. */
static int drive(conn *c) {
    for (;;) {
        if (c->state == HANDSHAKE) {
            int r = SSL_do_handshake(c->ssl);
            if (r != 1) return SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ ||
                                SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_WRITE ? 0 : -1;
            c->state = WRITING;
            c->off = 0;
            c->t0 = now();
        }
        if (c->state == WRITING) {
            fill(c->seq);
            size_t n, len = hs_mode ? 1 : (size_t)size;
            while (c->off < len) {
                if (SSL_write_ex(c->ssl, msg + c->off, len - c->off, &n) != 1) return want(c->ssl) ? 0 : -1;
                c->off += n;
            }
            c->state = READING;
            c->off = 0;
        }
        size_t len = hs_mode ? 1 : (size_t)size, n;
        while (c->off < len) {
            size_t ask = len - c->off < sizeof rbuf ? len - c->off : sizeof rbuf;
            if (SSL_read_ex(c->ssl, rbuf, ask, &n) != 1) return want(c->ssl) ? 0 : -1;
            fill(c->seq); /* the expected bytes */
            if (memcmp(rbuf, msg + c->off, n) != 0) return -1;
            c->off += n;
        }
        if (measuring) {
            uint32_t us = (uint32_t)((now() - c->t0) * 1e6);
            if (nlat == caplat) {
                caplat = caplat ? caplat * 2 : 65536;
                lat = realloc(lat, caplat * sizeof *lat);
            }
            lat[nlat++] = us;
            msgs++;
        }
        c->warm = 1;
        c->seq++;
        if (hs_mode) {
            if (measuring) handshakes++;
            close_conn(c, 1);
            if (open_conn(c) < 0) return -1;
            continue;
        }
        c->state = WRITING;
        c->off = 0;
        c->t0 = now();
    }
}

static int cmp(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 6) {
        fprintf(stderr, "usage: %s HOST PORT CONNECTIONS SIZE|handshake SECONDS\n", argv[0]);
        return 2;
    }
    int nconns = atoi(argv[3]);
    hs_mode = strcmp(argv[4], "handshake") == 0;
    size = hs_mode ? 1 : atoi(argv[4]);
    double secs = atof(argv[5]);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)secs + 40);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &addr.sin_addr);
    ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF); /* every handshake is a full one */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx, 1);
    msg = malloc((size_t)size + 1);
    ep = epoll_create1(0);
    conn *conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) {
        conns[i].seq = (uint32_t)i;
        if (open_conn(&conns[i]) < 0) { errors++; conns[i].fd = -1; }
    }
    const char *spid = getenv("SERVER_PID");
    struct epoll_event evs[256];
    double start = now(), t0 = 0, end = 0, s0 = 0, c0 = 0;
    long rss0 = 0;
    for (;;) {
        double t = now();
        if (!measuring) {
            int warm = 0;
            for (int i = 0; i < nconns; i++) warm += conns[i].warm;
            if (warm == nconns || t - start > (hs_mode ? 0.2 : 10)) {
                measuring = 1;
                t0 = t;
                end = t + secs;
                s0 = spid ? proc_cpu(spid) : 0;
                rss0 = spid ? proc_rss_kb(spid) : 0;
                c0 = self_cpu();
            }
        } else if (t >= end) {
            break;
        }
        int n = epoll_wait(ep, evs, 256, 50);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            if (drive(c) < 0) {
                errors++;
                close_conn(c, 0);
                c->warm = 1;
                if (open_conn(c) < 0) c->fd = -1;
            }
        }
    }
    double window = now() - t0;
    double scpu = spid ? proc_cpu(spid) - s0 : 0, ccpu = self_cpu() - c0;
    if (hs_mode) {
        printf("handshakes_per_s=%.0f conns=%d errors=%llu", handshakes / window, nconns,
               (unsigned long long)errors);
    } else {
        qsort(lat, nlat, sizeof *lat, cmp);
        printf("msgs_per_s=%.0f p50_us=%u p99_us=%u conns=%d size=%d errors=%llu", msgs / window,
               nlat ? lat[nlat / 2] : 0, nlat ? lat[(size_t)(nlat * 0.99)] : 0, nconns, size,
               (unsigned long long)errors);
    }
    if (spid) printf(" srv_cpu=%.1f%%", 100 * scpu / window);
    printf(" cli_cpu=%.1f%%", 100 * ccpu / window);
    if (spid && hs_mode && handshakes) printf(" srv_us_per_hs=%.0f", scpu * 1e6 / handshakes);
    if (spid) printf(" srv_rss0_kb=%ld srv_rss1_kb=%ld", rss0, proc_rss_kb(spid));
    printf("\n");
    return 0;
}

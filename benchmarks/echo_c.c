/*
 * echo_c.c: the reference echo server for the echo benchmarks: one thread,
 * epoll, level-triggered, non-blocking sockets, what a careful C programmer
 * writes. `echo_c PORT` listens on 0.0.0.0:PORT until killed.
 *
 * Each connection reads up to 64 KiB and writes it back; what the peer does not
 * take at once waits in a per-connection buffer and the connection stops
 * reading until it is flushed (EPOLLOUT), so a slow reader cannot grow memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536

typedef struct {
    int fd;
    size_t off, len; /* unsent bytes: buf[off..len) */
    char buf[BUF];
} Conn;

static int ep;

static void close_conn(Conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

static void watch(Conn *c, int op, unsigned events) {
    struct epoll_event ev = { .events = events, .data.ptr = c };
    epoll_ctl(ep, op, c->fd, &ev);
}

/* Writes the pending bytes; returns -1 on error, 0 when all went, 1 when some wait. */
static int flush(Conn *c) {
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n > 0) { c->off += (size_t)n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        return -1;
    }
    c->off = c->len = 0;
    return 0;
}

static void on_event(Conn *c, unsigned events) {
    if (c->len > 0) { /* waiting to write */
        int r = flush(c);
        if (r < 0) { close_conn(c); return; }
        if (r == 0) watch(c, EPOLL_CTL_MOD, EPOLLIN);
        return;
    }
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR))) return;
    ssize_t n = recv(c->fd, c->buf, BUF, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) { close_conn(c); return; }
    if (n < 0) return;
    c->len = (size_t)n;
    int r = flush(c);
    if (r < 0) close_conn(c);
    else if (r == 1) watch(c, EPOLL_CTL_MOD, EPOLLOUT);
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s PORT\n", argv[0]); return 2; }
    int port = atoi(argv[1]);
    if (port < 1 || port > 65535) { fprintf(stderr, "echo_c: bad port %s\n", argv[1]); return 2; }
    signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_ANY) };
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 4096) < 0) {
        perror("echo_c: bind/listen");
        return 1;
    }
    ep = epoll_create1(0);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        if (n < 0 && errno != EINTR) { perror("echo_c: epoll_wait"); return 1; }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) { /* the listening socket: accept all waiting */
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    Conn *c = malloc(sizeof *c);
                    if (!c) { close(fd); continue; }
                    c->fd = fd;
                    c->off = c->len = 0;
                    watch(c, EPOLL_CTL_ADD, EPOLLIN);
                }
                continue;
            }
            on_event(evs[i].data.ptr, evs[i].events);
        }
    }
}

/*
 * http_c.c: single-threaded epoll HTTP/1.1 keep-alive server answering "hello"
 * to every request: the reference examples/http_hello.lua is compared with.
 * It parses only what that example parses (request line, headers up to the blank
 * line, Content-Length bodies, Connection: close).
 *
 *   http_c PORT        (127.0.0.1; runs until SIGINT/SIGTERM)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUFSZ 16384
static const char BODY[] = "hello\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n";

struct conn { int fd; size_t len; char buf[BUFSZ]; };
static volatile sig_atomic_t stop;
static void on_sig(int s) { (void)s; stop = 1; }

/* Answers every complete request in the buffer; returns -1 to close. */
static int serve(struct conn *c) {
    size_t off = 0;
    for (;;) {
        char *end = memmem(c->buf + off, c->len - off, "\r\n\r\n", 4);
        if (!end) break;
        size_t hdr = (size_t)(end - (c->buf + off)) + 4, body = 0;
        int close_after = 0;
        for (char *p = c->buf + off; p < end; p++) {
            if (*p != '\n') continue;
            if (strncasecmp(p + 1, "content-length:", 15) == 0) body = strtoul(p + 16, NULL, 10);
            if (strncasecmp(p + 1, "connection: close", 17) == 0) close_after = 1;
        }
        if (off + hdr + body > c->len) break;
        off += hdr + body;
        if (write(c->fd, RESP, sizeof RESP - 1) < 0) return -1;
        if (close_after) return -1;
    }
    memmove(c->buf, c->buf + off, c->len - off);
    c->len -= off;
    return c->len == BUFSZ ? -1 : 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: http_c PORT\n"); return 2; }
    (void)BODY;
    signal(SIGINT, on_sig); signal(SIGTERM, on_sig); signal(SIGPIPE, SIG_IGN);
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(argv[1])) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) { perror("listen"); return 1; }
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    while (!stop) {
        int n = epoll_wait(ep, evs, 256, 200);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    struct epoll_event ce = { .events = EPOLLIN, .data.ptr = c };
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ce);
                }
                continue;
            }
            ssize_t r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
            if (r > 0) { c->len += (size_t)r; if (serve(c) == 0) continue; }
            else if (r < 0 && errno == EAGAIN) continue;
            close(c->fd);
            free(c);
        }
    }
    return 0;
}

/*
 * tls_echo_c.c: the C reference for the TLS echo benchmarks. A single-threaded
 * echo server on edge-triggered epoll with non-blocking OpenSSL, configured as
 * curio.ssl configures a server context (TLS 1.2 minimum, read-ahead, partial
 * writes, released buffers), so the two differ only in what runs around OpenSSL.
 *
 *   tls_echo_c PORT CERTFILE KEYFILE
 *
 * Build: cc -O2 -o tls_echo_c tls_echo_c.c -lssl -lcrypto
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct conn {
    int fd;
    SSL *ssl;
    int handshaken;
    char *pending; /* bytes read but not yet written back */
    size_t plen, poff;
} conn;

static char buf[65536];

static void conn_close(conn *c) {
    if (c->handshaken) SSL_shutdown(c->ssl); /* close_notify, without waiting */
    SSL_free(c->ssl);
    close(c->fd);
    free(c->pending);
    free(c);
}

/* Writes the pending bytes; 1 = all out, 0 = wait for EPOLLOUT, -1 = error. */
static int flush(conn *c) {
    while (c->poff < c->plen) {
        size_t n;
        if (SSL_write_ex(c->ssl, c->pending + c->poff, c->plen - c->poff, &n) == 1) {
            c->poff += n;
            continue;
        }
        int e = SSL_get_error(c->ssl, 0);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) return 0;
        return -1;
    }
    c->plen = c->poff = 0;
    return 1;
}

/* Runs the connection as far as it goes; -1 when it is over. */
static int drive(conn *c) {
    if (!c->handshaken) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
        }
        c->handshaken = 1;
    }
    if (c->plen > 0) {
        int f = flush(c);
        if (f <= 0) return f;
    }
    for (;;) {
        size_t n;
        ERR_clear_error();
        if (SSL_read_ex(c->ssl, buf, sizeof buf, &n) != 1) {
            int e = SSL_get_error(c->ssl, 0);
            return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : -1;
        }
        size_t w;
        size_t off = 0;
        while (off < n && SSL_write_ex(c->ssl, buf + off, n - off, &w) == 1) off += w;
        if (off < n) {
            int e = SSL_get_error(c->ssl, 0);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return -1;
            c->pending = realloc(c->pending, n - off);
            memcpy(c->pending, buf + off, n - off);
            c->plen = n - off;
            c->poff = 0;
            return 0;
        }
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s PORT CERTFILE KEYFILE\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"curio", 5);
    if (SSL_CTX_use_certificate_chain_file(ctx, argv[2]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, 1024) < 0) {
        perror("listen");
        return 1;
    }
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                int fd;
                while ((fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
                    c = calloc(1, sizeof *c);
                    c->fd = fd;
                    c->ssl = SSL_new(ctx);
                    SSL_set_fd(c->ssl, fd);
                    SSL_set_accept_state(c->ssl);
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                    if (drive(c) < 0) conn_close(c); /* closing the fd removes it from epoll */
                }
                continue;
            }
            if (drive(c) < 0) conn_close(c);
        }
    }
}

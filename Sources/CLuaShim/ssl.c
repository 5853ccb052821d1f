/* curio.cssl: OpenSSL under lua/curio/ssl.lua. Contexts (SSL_CTX) and connections
 * (SSL) are userdata freed by __gc (or earlier by free()). Every connection is on
 * a non-blocking socket: handshake/read/write/shutdown try once and return a status,
 * never wait. Lua decides what to do with it, exactly as with curio.csocket:
 *   WANT_READ / WANT_WRITE -> an IO trap on the socket, then try again;
 *   anything else          -> raise SSLError (reason, verify result) or OSError.
 * Failure results: nil, code, reason, extra where code is one of the constants
 * below; for ERR_SSL reason is OpenSSL's reason ("certificate verify failed") and
 * extra the verify result text if the peer's certificate was rejected; for
 * ERR_SYSCALL extra is the errno. These are C frames: raising is fine here. */
#define _GNU_SOURCE
#include "CLuaShim.h"
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { WANT_READ = 1, WANT_WRITE = 2, ERR_SSL = 3, ERR_SYSCALL = 4, ERR_EOF = 5 };

#define CTX_MT "curio.cssl.ctx"
#define SSL_MT "curio.cssl.ssl"

typedef struct { SSL_CTX *ctx; } lctx;
/* `drained`: the socket BIO's last recv() returned less than it asked for, so the
 * socket's receive queue was empty then (TCP copies all it has). read() then
 * answers WANT_READ without the recv() that would only say EAGAIN, as
 * Socket:recv does after a short read: safe because the poller remembers an edge
 * (or the end of input) that came while nobody waited. The BIO points here: the
 * userdata outlives the SSL and its BIO (both freed by free() or __gc). */
typedef struct { SSL *ssl; int fd; int drained; } lssl;

/* Connections alive (made and not yet freed), process-wide: tests check it for leaks. */
static _Atomic long live_connections;

/* Receive buffer, one per thread (one Lua state per thread). */
#define RBUF 65536
static _Thread_local char rbuf[RBUF];

/* ---- ALPN: a server context's wire-format protocol list lives in the SSL_CTX's
 * ex data (freed with it), so the select callback never sees a dangling pointer. */
typedef struct { size_t len; unsigned char data[]; } alpn_list;
static int alpn_index = -1;
static pthread_once_t alpn_once = PTHREAD_ONCE_INIT;

static void alpn_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl, void *argp) {
    (void)parent; (void)ad; (void)idx; (void)argl; (void)argp;
    free(ptr);
}
static void alpn_init(void) { alpn_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, alpn_free); }

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
    (void)arg;
    alpn_list *l = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), alpn_index);
    if (!l) return SSL_TLSEXT_ERR_NOACK;
    unsigned char *o;
    if (SSL_select_next_proto(&o, outlen, l->data, (unsigned)l->len, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no protocol in common: go on without ALPN */
    *out = o;
    return SSL_TLSEXT_ERR_OK;
}

/* ---- the socket BIO: OpenSSL's own writes with write(2), and a peer that has
 * gone would raise SIGPIPE, killing the process. Ours uses send(MSG_NOSIGNAL)
 * (an EPIPE error instead), as curio.csocket does. */
static BIO_METHOD *fd_bio_method;
static pthread_once_t bio_once = PTHREAD_ONCE_INIT;

static lssl *conn_of(BIO *b) { return BIO_get_data(b); }

static int retryable(int e) { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

static int bio_read(BIO *b, char *buf, int n) {
    BIO_clear_retry_flags(b);
    lssl *c = conn_of(b);
    ssize_t r = recv(c->fd, buf, (size_t)n, 0);
    c->drained = r > 0 && r < n;
    if (r < 0 && retryable(errno)) BIO_set_retry_read(b);
    return (int)r;
}

static int bio_write(BIO *b, const char *buf, int n) {
    BIO_clear_retry_flags(b);
    ssize_t r = send(conn_of(b)->fd, buf, (size_t)n, MSG_NOSIGNAL);
    if (r < 0 && retryable(errno)) BIO_set_retry_write(b);
    return (int)r;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b; (void)num; (void)ptr;
    return cmd == BIO_CTRL_FLUSH || cmd == BIO_CTRL_DUP ? 1 : 0;
}

static int bio_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void bio_init(void) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR, "curio socket");
    if (!m) return;
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    fd_bio_method = m;
}

/* A BIO on the connection's fd (never closes it: the socket owns it). */
static BIO *fd_bio(lssl *c) {
    pthread_once(&bio_once, bio_init);
    if (!fd_bio_method) return NULL;
    BIO *b = BIO_new(fd_bio_method);
    if (b) BIO_set_data(b, c);
    return b;
}

/* ---- errors */

/* The reason of the oldest queued OpenSSL error (and clears the queue). */
static const char *err_reason(unsigned long *code) {
    unsigned long e = ERR_get_error();
    unsigned long last;
    while ((last = ERR_get_error()) != 0) {} /* the first error is the cause */
    if (code) *code = e;
    if (e == 0) return NULL;
    const char *r = ERR_reason_error_string(e);
    return r ? r : "unknown error";
}

/* nil, false, message: for context configuration failures. */
static int cfg_fail(lua_State *L, const char *what) {
    const char *r = err_reason(NULL);
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    if (r) lua_pushfstring(L, "%s (%s)", what, r);
    else lua_pushstring(L, what);
    return 3;
}

static int ok(lua_State *L) {
    lua_pushboolean(L, 1);
    return 1;
}

/* Pushes nil, code, reason, extra for SSL_get_error(ssl, r). Clears the queue. */
static int io_fail(lua_State *L, SSL *ssl, int r, int err_no) {
    int e = SSL_get_error(ssl, r);
    lua_pushnil(L);
    switch (e) {
    case SSL_ERROR_WANT_READ: lua_pushinteger(L, WANT_READ); return 2;
    case SSL_ERROR_WANT_WRITE: lua_pushinteger(L, WANT_WRITE); return 2;
    case SSL_ERROR_ZERO_RETURN: lua_pushinteger(L, ERR_EOF); lua_pushstring(L, "closed"); return 3;
    case SSL_ERROR_SYSCALL: {
        const char *reason = err_reason(NULL);
        if (reason) {
            lua_pushinteger(L, ERR_SSL);
            lua_pushstring(L, reason);
            return 3;
        }
        if (err_no == 0) { /* OpenSSL 1.1 style EOF without close_notify */
            lua_pushinteger(L, ERR_SSL);
            lua_pushstring(L, "unexpected eof while reading");
            return 3;
        }
        lua_pushinteger(L, ERR_SYSCALL);
        lua_pushstring(L, strerror(err_no));
        lua_pushinteger(L, err_no);
        return 4;
    }
    default: {
        unsigned long code;
        const char *reason = err_reason(&code);
        lua_pushinteger(L, ERR_SSL);
        lua_pushstring(L, reason ? reason : "protocol error");
        long v = SSL_get_verify_result(ssl);
        if (ERR_GET_REASON(code) == SSL_R_CERTIFICATE_VERIFY_FAILED && v != X509_V_OK) {
            lua_pushstring(L, X509_verify_cert_error_string(v));
            return 4;
        }
        return 3;
    }
    }
}

/* ---- contexts */

static lctx *check_ctx(lua_State *L, int i) {
    lctx *c = luaL_checkudata(L, i, CTX_MT);
    if (!c->ctx) luaL_argerror(L, i, "context is freed");
    return c;
}

/* ctx_new(server) -> ctx: TLS 1.2 minimum, peer verification off (Lua sets it). */
static int l_ctx_new(lua_State *L) {
    int server = lua_toboolean(L, 1);
    lctx *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->ctx = NULL;
    luaL_setmetatable(L, CTX_MT);
    SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (!ctx) return cfg_fail(L, "SSL_CTX_new failed");
    c->ctx = ctx;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* Writes may return part of a buffer, and a retried write may come from a
     * different Lua string holding the same bytes. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    /* SSL_MODE_AUTO_RETRY (the default) stays on: WANT_READ then always means the
     * socket itself said EAGAIN. Without it a read that processed a non-data record
     * (a TLS 1.3 session ticket) would ask to wait while data sits in the socket,
     * and an edge-triggered wait would never end. Read-ahead: one read() takes
     * several records. */
    SSL_CTX_set_read_ahead(ctx, 1);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    if (server) SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"curio", 5);
    return 1;
}

static int l_ctx_gc(lua_State *L) {
    lctx *c = luaL_checkudata(L, 1, CTX_MT);
    if (c->ctx) SSL_CTX_free(c->ctx); /* connections hold their own reference */
    c->ctx = NULL;
    return 0;
}

/* load_cert_chain(ctx, certfile, keyfile) -> true | nil, false, message */
static int l_load_cert_chain(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    const char *cert = luaL_checkstring(L, 2);
    const char *key = luaL_optstring(L, 3, cert);
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        lua_pushfstring(L, "certfile %s: cannot load certificate", cert);
        return cfg_fail(L, lua_tostring(L, -1));
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            lua_pushfstring(L, "keyfile %s does not match certfile %s", key, cert);
        else
            lua_pushfstring(L, "keyfile %s: cannot load private key", key);
        return cfg_fail(L, lua_tostring(L, -1));
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        lua_pushfstring(L, "keyfile %s does not match certfile %s", key, cert);
        return cfg_fail(L, lua_tostring(L, -1));
    }
    return ok(L);
}

/* load_verify(ctx, cafile|nil, capath|nil) -> true | nil, false, message */
static int l_load_verify(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    const char *file = luaL_optstring(L, 2, NULL), *path = luaL_optstring(L, 3, NULL);
    ERR_clear_error();
    if (file && SSL_CTX_load_verify_file(ctx, file) != 1) {
        lua_pushfstring(L, "cafile %s: cannot load CA certificates", file);
        return cfg_fail(L, lua_tostring(L, -1));
    }
    if (path && SSL_CTX_load_verify_dir(ctx, path) != 1) {
        lua_pushfstring(L, "capath %s: cannot use as CA directory", path);
        return cfg_fail(L, lua_tostring(L, -1));
    }
    if (!file && !path && SSL_CTX_set_default_verify_paths(ctx) != 1)
        return cfg_fail(L, "cannot load the system CA store");
    return ok(L);
}

/* set_verify(ctx, mode): 0 none, 1 verify the peer, 2 also require a certificate */
static int l_set_verify(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    lua_Integer m = luaL_checkinteger(L, 2);
    int mode = m == 0 ? SSL_VERIFY_NONE : SSL_VERIFY_PEER | (m == 2 ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(ctx, mode, NULL);
    return ok(L);
}

/* set_ciphers(ctx, list) -> true | nil, false, message (TLS 1.2 cipher list) */
static int l_set_ciphers(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    const char *s = luaL_checkstring(L, 2);
    ERR_clear_error();
    if (SSL_CTX_set_cipher_list(ctx, s) != 1) return cfg_fail(L, "no cipher can be selected");
    return ok(L);
}

/* set_versions(ctx, min, max): 0x0303 = TLS 1.2, 0x0304 = TLS 1.3, 0 = no bound */
static int l_set_versions(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    if (SSL_CTX_set_min_proto_version(ctx, (int)luaL_checkinteger(L, 2)) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, (int)luaL_checkinteger(L, 3)) != 1)
        return cfg_fail(L, "unsupported TLS version");
    return ok(L);
}

/* set_alpn(ctx, wire) -> true: a client offers `wire`; a server selects from it. */
static int l_set_alpn(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    size_t n;
    const char *wire = luaL_checklstring(L, 2, &n);
    if (lua_toboolean(L, 3)) { /* server */
        pthread_once(&alpn_once, alpn_init);
        alpn_list *l = malloc(sizeof *l + n);
        if (!l) return luaL_error(L, "not enough memory");
        l->len = n;
        memcpy(l->data, wire, n);
        free(SSL_CTX_get_ex_data(ctx, alpn_index));
        SSL_CTX_set_ex_data(ctx, alpn_index, l);
        SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    } else if (SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)wire, (unsigned)n) != 0) {
        return cfg_fail(L, "invalid ALPN protocol list");
    }
    return ok(L);
}

/* ---- connections */

static lssl *check_ssl(lua_State *L) {
    lssl *s = luaL_checkudata(L, 1, SSL_MT);
    if (!s->ssl) luaL_argerror(L, 1, "connection is closed");
    return s;
}

static int is_ip(const char *h) {
    unsigned char buf[16];
    return inet_pton(AF_INET, h, buf) == 1 || inet_pton(AF_INET6, h, buf) == 1;
}

/* new(ctx, fd, server, hostname|nil, check_hostname, alpn_wire|nil) -> ssl |
 * nil, false, message. A client sends `hostname` as SNI (unless it is an IP
 * address) and, with check_hostname, requires the certificate to match it (DNS
 * name or IP address SAN). */
static int l_new(lua_State *L) {
    SSL_CTX *ctx = check_ctx(L, 1)->ctx;
    int fd = (int)luaL_checkinteger(L, 2);
    int server = lua_toboolean(L, 3);
    const char *host = luaL_optstring(L, 4, NULL);
    int check = lua_toboolean(L, 5);
    size_t alpn_len = 0;
    const char *alpn = luaL_optlstring(L, 6, NULL, &alpn_len);
    lssl *s = lua_newuserdatauv(L, sizeof *s, 0);
    s->ssl = NULL;
    s->fd = fd;
    s->drained = 0;
    luaL_setmetatable(L, SSL_MT);
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx);
    if (!ssl) return cfg_fail(L, "SSL_new failed");
    s->ssl = ssl;
    live_connections++;
    BIO *bio = fd_bio(s);
    if (!bio) return cfg_fail(L, "BIO_new failed");
    SSL_set_bio(ssl, bio, bio); /* one reference, owned by ssl */
    if (server) {
        SSL_set_accept_state(ssl);
    } else {
        SSL_set_connect_state(ssl);
        if (host && host[0] && !is_ip(host) && SSL_set_tlsext_host_name(ssl, host) != 1)
            return cfg_fail(L, "invalid server_hostname");
        if (check && host) {
            int r;
            if (is_ip(host)) {
                r = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
            } else {
                SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
                r = SSL_set1_host(ssl, host);
            }
            if (r != 1) return cfg_fail(L, "invalid server_hostname");
        }
        if (alpn && SSL_set_alpn_protos(ssl, (const unsigned char *)alpn, (unsigned)alpn_len) != 0)
            return cfg_fail(L, "invalid ALPN protocol list");
    }
    return 1;
}

static int l_free(lua_State *L) {
    lssl *s = luaL_checkudata(L, 1, SSL_MT);
    if (s->ssl) {
        SSL_free(s->ssl);
        live_connections--;
    }
    s->ssl = NULL;
    return 0;
}

static int l_live(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)live_connections);
    return 1;
}

/* handshake(ssl) -> true | nil, code, reason, extra */
static int l_handshake(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl);
    if (r == 1) return ok(L);
    return io_fail(L, ssl, r, errno);
}

/* read(ssl, n) -> data ("" at a clean end: close_notify) | nil, code, reason,
 * extra. At most 64 KiB a call (OpenSSL returns one record, at most 16 KiB, per
 * read anyway). */
static int l_read(lua_State *L) {
    lssl *s = check_ssl(L);
    SSL *ssl = s->ssl;
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n <= 0) { lua_pushliteral(L, ""); return 1; }
    if (s->drained && !SSL_has_pending(ssl)) { /* wait first: see lssl */
        s->drained = 0;
        lua_pushnil(L);
        lua_pushinteger(L, WANT_READ);
        return 2;
    }
    if (n > RBUF) n = RBUF;
    ERR_clear_error();
    errno = 0;
    size_t got = 0;
    if (SSL_read_ex(ssl, rbuf, (size_t)n, &got) != 1) {
        int e = errno;
        if (SSL_get_error(ssl, 0) == SSL_ERROR_ZERO_RETURN) { lua_pushliteral(L, ""); return 1; }
        return io_fail(L, ssl, 0, e);
    }
    lua_pushlstring(L, rbuf, got);
    return 1;
}

/* write(ssl, data, offset) -> bytes written | nil, code, reason, extra | nil,
 * false if data is not a string. */
static int l_write(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushboolean(L, 0);
        return 2;
    }
    size_t len;
    const char *s = lua_tolstring(L, 2, &len);
    lua_Integer off = luaL_optinteger(L, 3, 0);
    if (off < 0 || (size_t)off > len) return luaL_argerror(L, 3, "offset out of range");
    if ((size_t)off == len) { lua_pushinteger(L, 0); return 1; }
    ERR_clear_error();
    errno = 0;
    size_t done = 0;
    if (SSL_write_ex(ssl, s + off, len - (size_t)off, &done) == 1) {
        lua_pushinteger(L, (lua_Integer)done);
        return 1;
    }
    return io_fail(L, ssl, 0, errno);
}

/* shutdown(ssl) -> true (close_notify sent) | nil, code, ... Never waits for the
 * peer's close_notify. */
static int l_shutdown(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    if (!SSL_is_init_finished(ssl)) return ok(L); /* nothing to close politely */
    ERR_clear_error();
    errno = 0;
    int r = SSL_shutdown(ssl);
    if (r >= 0) return ok(L);
    return io_fail(L, ssl, r, errno);
}

/* key_update(ssl, request_peer) -> true | nil, false, message (TLS 1.3): the next
 * write carries it. */
static int l_key_update(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    ERR_clear_error();
    if (SSL_key_update(ssl, lua_toboolean(L, 2) ? SSL_KEY_UPDATE_REQUESTED : SSL_KEY_UPDATE_NOT_REQUESTED) != 1)
        return cfg_fail(L, "key update failed");
    return ok(L);
}

static int l_pending(lua_State *L) {
    lua_pushinteger(L, SSL_pending(check_ssl(L)->ssl));
    return 1;
}

static int l_version(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    if (!SSL_is_init_finished(ssl)) return 0;
    lua_pushstring(L, SSL_get_version(ssl));
    return 1;
}

/* cipher(ssl) -> name, protocol, secret bits (as Python's) */
static int l_cipher(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
    if (!c) return 0;
    lua_pushstring(L, SSL_CIPHER_get_name(c));
    lua_pushstring(L, SSL_CIPHER_get_version(c));
    lua_pushinteger(L, SSL_CIPHER_get_bits(c, NULL));
    return 3;
}

static int l_alpn(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    const unsigned char *p;
    unsigned int n;
    SSL_get0_alpn_selected(ssl, &p, &n);
    if (n == 0) return 0;
    lua_pushlstring(L, (const char *)p, n);
    return 1;
}

/* ---- certificates */

/* Pushes a table {CN = ..., O = ..., ...} (short names; a repeated field keeps
 * the last value). */
static void push_name(lua_State *L, const X509_NAME *name) {
    lua_newtable(L);
    int n = X509_NAME_entry_count(name);
    for (int i = 0; i < n; i++) {
        const X509_NAME_ENTRY *e = X509_NAME_get_entry(name, i);
        int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
        const char *key = nid != NID_undef ? OBJ_nid2sn(nid) : "?";
        const ASN1_STRING *v = X509_NAME_ENTRY_get_data(e);
        unsigned char *utf8 = NULL;
        int len = ASN1_STRING_to_UTF8(&utf8, v);
        if (len < 0) continue;
        lua_pushlstring(L, (const char *)utf8, (size_t)len);
        OPENSSL_free(utf8);
        lua_setfield(L, -2, key);
    }
}

/* Pushes a string made by an OpenSSL print function through a memory BIO. */
static int push_bio(lua_State *L, BIO *bio) {
    char *p;
    long n = BIO_get_mem_data(bio, &p);
    lua_pushlstring(L, p, n > 0 ? (size_t)n : 0);
    BIO_free(bio);
    return 1;
}

static void push_time(lua_State *L, const ASN1_TIME *t) {
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio) { lua_pushnil(L); return; }
    ASN1_TIME_print(bio, t);
    push_bio(L, bio);
}

/* A list of "DNS:name" / "IP:addr" / "URI:..." / "email:..." strings. */
static void push_san(lua_State *L, X509 *cert) {
    lua_newtable(L);
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    if (!names) return;
    int k = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
        if (g->type == GEN_DNS || g->type == GEN_URI || g->type == GEN_EMAIL) {
            const char *tag = g->type == GEN_DNS ? "DNS:" : g->type == GEN_URI ? "URI:" : "email:";
            const ASN1_IA5STRING *s = g->d.ia5;
            lua_pushstring(L, tag);
            lua_pushlstring(L, (const char *)ASN1_STRING_get0_data(s), (size_t)ASN1_STRING_length(s));
            lua_concat(L, 2);
        } else if (g->type == GEN_IPADD) {
            char buf[INET6_ADDRSTRLEN];
            const ASN1_OCTET_STRING *ip = g->d.ip;
            int len = ASN1_STRING_length(ip);
            const unsigned char *d = ASN1_STRING_get0_data(ip);
            if (!inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf, sizeof buf)) continue;
            lua_pushfstring(L, "IP:%s", buf);
        } else {
            continue;
        }
        lua_rawseti(L, -2, ++k);
    }
    GENERAL_NAMES_free(names);
}

/* peercert(ssl, binary) -> table | DER string | nothing if the peer sent none.
 * Built in a protected call so the certificate is freed whatever happens. */
static int peercert_table(lua_State *L) {
    X509 *cert = lua_touserdata(L, 1);
    if (lua_toboolean(L, 2)) {
        unsigned char *der = NULL;
        int n = i2d_X509(cert, &der);
        if (n < 0) return 0;
        lua_pushlstring(L, (const char *)der, (size_t)n);
        OPENSSL_free(der);
        return 1;
    }
    lua_createtable(L, 0, 8);
    push_name(L, X509_get_subject_name(cert));
    lua_setfield(L, -2, "subject");
    push_name(L, X509_get_issuer_name(cert));
    lua_setfield(L, -2, "issuer");
    push_san(L, cert);
    lua_setfield(L, -2, "san");
    push_time(L, X509_get0_notBefore(cert));
    lua_setfield(L, -2, "notBefore");
    push_time(L, X509_get0_notAfter(cert));
    lua_setfield(L, -2, "notAfter");
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    if (bn) {
        char *hex = BN_bn2hex(bn);
        BN_free(bn);
        if (hex) {
            lua_pushstring(L, hex);
            OPENSSL_free(hex);
            lua_setfield(L, -2, "serial");
        }
    }
    lua_pushinteger(L, X509_get_version(cert) + 1);
    lua_setfield(L, -2, "version");
    return 1;
}

static int l_peercert(lua_State *L) {
    SSL *ssl = check_ssl(L)->ssl;
    int binary = lua_toboolean(L, 2);
    X509 *cert = SSL_get1_peer_certificate(ssl);
    if (!cert) return 0;
    lua_pushcfunction(L, peercert_table);
    lua_pushlightuserdata(L, cert);
    lua_pushboolean(L, binary);
    int st = lua_pcall(L, 2, 1, 0);
    X509_free(cert);
    if (st != LUA_OK) return lua_error(L);
    return 1;
}

/* verify_result(ssl) -> text, or nothing if the certificate was accepted. */
static int l_verify_result(lua_State *L) {
    long v = SSL_get_verify_result(check_ssl(L)->ssl);
    if (v == X509_V_OK) return 0;
    lua_pushstring(L, X509_verify_cert_error_string(v));
    return 1;
}

int cl_open_ssl(lua_State *L) {
    static const luaL_Reg ctx_m[] = {{"__gc", l_ctx_gc}, {NULL, NULL}};
    static const luaL_Reg ssl_m[] = {{"__gc", l_free}, {NULL, NULL}};
    static const luaL_Reg fns[] = {
        {"ctx_new", l_ctx_new}, {"ctx_free", l_ctx_gc}, {"load_cert_chain", l_load_cert_chain},
        {"load_verify", l_load_verify}, {"set_verify", l_set_verify}, {"set_ciphers", l_set_ciphers},
        {"set_versions", l_set_versions}, {"set_alpn", l_set_alpn},
        {"new", l_new}, {"free", l_free}, {"handshake", l_handshake}, {"read", l_read},
        {"write", l_write}, {"shutdown", l_shutdown}, {"key_update", l_key_update},
        {"pending", l_pending}, {"version", l_version}, {"cipher", l_cipher}, {"alpn", l_alpn},
        {"peercert", l_peercert}, {"verify_result", l_verify_result}, {"live", l_live},
        {NULL, NULL},
    };
    luaL_newmetatable(L, CTX_MT);
    luaL_setfuncs(L, ctx_m, 0);
    lua_pop(L, 1);
    luaL_newmetatable(L, SSL_MT);
    luaL_setfuncs(L, ssl_m, 0);
    lua_pop(L, 1);
    luaL_newlib(L, fns);
#define C(name, v) lua_pushinteger(L, v); lua_setfield(L, -2, name)
    C("WANT_READ", WANT_READ); C("WANT_WRITE", WANT_WRITE); C("ERR_SSL", ERR_SSL);
    C("ERR_SYSCALL", ERR_SYSCALL); C("ERR_EOF", ERR_EOF);
    C("TLS1_2", TLS1_2_VERSION); C("TLS1_3", TLS1_3_VERSION);
#undef C
    lua_pushstring(L, OpenSSL_version(OPENSSL_VERSION));
    lua_setfield(L, -2, "OPENSSL_VERSION");
    return 1;
}

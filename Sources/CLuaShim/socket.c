/* curio.csocket: the socket (and raw fd) syscalls under lua/curio/socket.lua and
 * lua/curio/io.lua. Every descriptor is non-blocking; each function tries its
 * syscall once and returns `nil, errno` on failure (EAGAIN included), so the Lua
 * side decides whether to wait for readiness (a kernel trap) or to raise. Functions
 * that take an address return `nil, false` when the host is not a numeric address:
 * Lua then resolves it on the thread pool and calls again.
 * These are C frames: raising (argument errors) is fine here. Argument types are
 * checked in Lua, with messages that name the Lua-level method. */
#define _GNU_SOURCE
#include <limits.h>
#include <sys/ioctl.h>
#include "CLuaShim.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Receive buffer: one per thread (each Lua state is used by one thread), so the
 * hot path allocates nothing but the resulting Lua string. */
#define RBUF 65536
static _Thread_local char rbuf[RBUF];

static int fail(lua_State *L, int err) {
    lua_pushnil(L);
    lua_pushinteger(L, err);
    return 2;
}

/* An int argument: an integer that fits in C's int, never silently truncated
   (shutdown(2^32+1) must not become shutdown(1)). */
static int check_int(lua_State *L, int i) {
    lua_Integer v = luaL_checkinteger(L, i);
    if (v < INT_MIN || v > INT_MAX) luaL_argerror(L, i, "value out of range");
    return (int)v;
}
static int opt_int(lua_State *L, int i, int def) {
    return lua_isnoneornil(L, i) ? def : check_int(L, i);
}
static int fd_arg(lua_State *L) { return check_int(L, 1); }

/* The results of a call whose address could not be built (to_sockaddr's r <= 0):
   nil, false when the host needs resolving first, nil, errno otherwise. */
static int address_failed(lua_State *L, int r) {
    if (r < 0) return fail(L, -r);
    lua_pushnil(L);
    lua_pushboolean(L, 0);
    return 2;
}

/* ---- addresses */

/* Builds a sockaddr from (host, port) or (path) at stack index idx. Returns 1 on
 * success, 0 if host is not numeric (needs resolving), -errno on error. */
static int to_sockaddr(lua_State *L, int family, int idx, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_UNIX) {
        size_t n;
        const char *path = luaL_checklstring(L, idx, &n);
        struct sockaddr_un *un = (struct sockaddr_un *)ss;
        if (n >= sizeof un->sun_path) return -ENAMETOOLONG;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, n);
        /* A leading NUL names a Linux abstract socket: its length counts exactly. */
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (n > 0 && path[0] == 0 ? 0 : 1));
        return 1;
    }
    const char *host = luaL_optstring(L, idx, "");
    lua_Integer port = luaL_optinteger(L, idx + 1, 0);
    if (port < 0 || port > 65535) return -EINVAL;
    int any = host[0] == 0 || strcmp(host, "*") == 0;
    int local = strcmp(host, "localhost") == 0;
    if (family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (any) in->sin_addr.s_addr = htonl(INADDR_ANY);
        else if (local) in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        else if (inet_pton(AF_INET, host, &in->sin_addr) != 1) return 0;
        *len = sizeof *in;
        return 1;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (any) in6->sin6_addr = in6addr_any;
        else if (local) in6->sin6_addr = in6addr_loopback;
        else if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1) {
            /* An IPv4 literal on an IPv6 socket: the v4-mapped address. */
            struct in_addr v4;
            if (inet_pton(AF_INET, host, &v4) != 1) return 0;
            memset(&in6->sin6_addr, 0, sizeof in6->sin6_addr);
            in6->sin6_addr.s6_addr[10] = 0xff;
            in6->sin6_addr.s6_addr[11] = 0xff;
            memcpy(&in6->sin6_addr.s6_addr[12], &v4, 4);
        }
        *len = sizeof *in6;
        return 1;
    }
    return -EAFNOSUPPORT;
}

/* Pushes an address: host, port for IP families; path for AF_UNIX. Returns the
 * number of values pushed. */
static int push_sockaddr(lua_State *L, const struct sockaddr_storage *ss, socklen_t len) {
    char host[NI_MAXHOST];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        lua_pushstring(L, host);
        lua_pushinteger(L, ntohs(in->sin_port));
        return 2;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (getnameinfo((const struct sockaddr *)ss, len, host, sizeof host, NULL, 0, NI_NUMERICHOST) != 0)
            inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        lua_pushstring(L, host);
        lua_pushinteger(L, ntohs(in6->sin6_port));
        return 2;
    }
    if (ss->ss_family == AF_UNIX) {
        const struct sockaddr_un *un = (const struct sockaddr_un *)ss;
        size_t off = offsetof(struct sockaddr_un, sun_path);
        size_t n = len > off ? len - off : 0;
        if (n > 0 && un->sun_path[0] != 0) n = strnlen(un->sun_path, n);
        lua_pushlstring(L, un->sun_path, n);
        return 1;
    }
    lua_pushnil(L);
    return 1;
}

/* ---- sockets */

static int l_socket(lua_State *L) {
    int family = check_int(L, 1);
    int type = check_int(L, 2);
    int proto = opt_int(L, 3, 0);
    int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (fd < 0) return fail(L, errno);
    lua_pushinteger(L, fd);
    return 1;
}

static int l_socketpair(lua_State *L) {
    int family = opt_int(L, 1, AF_UNIX);
    int type = opt_int(L, 2, SOCK_STREAM);
    int sv[2];
    if (socketpair(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return fail(L, errno);
    lua_pushinteger(L, sv[0]);
    lua_pushinteger(L, sv[1]);
    return 2;
}

/* bind(fd, family, host, port) / bind(fd, AF_UNIX, path) */
static int l_bind(lua_State *L) {
    int fd = fd_arg(L);
    struct sockaddr_storage ss;
    socklen_t len;
    int r = to_sockaddr(L, check_int(L, 2), 3, &ss, &len);
    if (r <= 0) return address_failed(L, r);
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* connect(fd, family, host, port): true, or nil, EINPROGRESS (wait for writability,
 * then read sockerror). */
static int l_connect(lua_State *L) {
    int fd = fd_arg(L);
    struct sockaddr_storage ss;
    socklen_t len;
    int r = to_sockaddr(L, check_int(L, 2), 3, &ss, &len);
    if (r <= 0) return address_failed(L, r);
    int rc;
    do rc = connect(fd, (struct sockaddr *)&ss, len); while (rc < 0 && errno == EINTR);
    if (rc < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_listen(lua_State *L) {
    if (listen(fd_arg(L), opt_int(L, 2, 128)) < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* accept(fd) -> cfd, host, port | cfd, path */
static int l_accept(lua_State *L) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int fd;
    do fd = accept4(fd_arg(L), (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return fail(L, errno);
    lua_pushinteger(L, fd);
    return 1 + push_sockaddr(L, &ss, len);
}

/* recv(fd, n) -> data ("" at end of stream) | nil, errno. Receives into the
 * thread's buffer first, so a large n costs an allocation only when that much
 * data is actually waiting. */
static int l_recv(lua_State *L) {
    int fd = fd_arg(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n <= 0) { lua_pushliteral(L, ""); return 1; }
    size_t first = n < RBUF ? (size_t)n : RBUF;
    ssize_t r;
    do r = recv(fd, rbuf, first, 0); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    if ((size_t)r < first || (size_t)n == first) {
        lua_pushlstring(L, rbuf, (size_t)r);
        return 1;
    }
    /* The buffer filled up: take up to n - RBUF more without waiting, sized by what
       is queued (a huge n never allocates more than the data). */
    int queued = 0;
    size_t want = (size_t)n - RBUF;
    if (ioctl(fd, FIONREAD, &queued) == 0 && queued >= 0 && (size_t)queued < want) want = (size_t)queued;
    if (want == 0) {
        lua_pushlstring(L, rbuf, RBUF);
        return 1;
    }
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, RBUF + want);
    memcpy(p, rbuf, RBUF);
    ssize_t more;
    do more = recv(fd, p + RBUF, want, 0); while (more < 0 && errno == EINTR);
    luaL_pushresultsize(&b, RBUF + (more > 0 ? (size_t)more : 0));
    return 1;
}

/* send(fd, data, offset) -> bytes sent | nil, errno | nil, false if data is not a
 * string (Lua then raises its argument error: checking here saves sendall a
 * type() call per message). Sends data from 0-based `offset` on without copying
 * the string. MSG_NOSIGNAL: a reset peer is an EPIPE error, not a process-killing
 * SIGPIPE. */
static int l_send(lua_State *L) {
    int fd = fd_arg(L);
    size_t len;
    if (lua_type(L, 2) != LUA_TSTRING) {
        lua_pushnil(L);
        lua_pushboolean(L, 0);
        return 2;
    }
    const char *s = lua_tolstring(L, 2, &len);
    lua_Integer off = luaL_optinteger(L, 3, 0);
    if (off < 0 || (size_t)off > len) return luaL_argerror(L, 3, "offset out of range");
    ssize_t r;
    do r = send(fd, s + off, len - (size_t)off, MSG_NOSIGNAL); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    lua_pushinteger(L, r);
    return 1;
}

/* recvfrom(fd, n) -> data, host, port | data, path | nil, errno */
static int l_recvfrom(lua_State *L) {
    int fd = fd_arg(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n < 0) n = 0;
    if (n > RBUF) n = RBUF; /* larger than any UDP datagram */
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    ssize_t r;
    do r = recvfrom(fd, rbuf, (size_t)n, 0, (struct sockaddr *)&ss, &len); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    lua_pushlstring(L, rbuf, (size_t)r);
    return 1 + push_sockaddr(L, &ss, len);
}

/* sendto(fd, data, family, host, port) -> n | nil, errno | nil, false */
static int l_sendto(lua_State *L) {
    int fd = fd_arg(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    struct sockaddr_storage ss;
    socklen_t alen;
    int r = to_sockaddr(L, check_int(L, 3), 4, &ss, &alen);
    if (r <= 0) return address_failed(L, r);
    ssize_t n;
    do n = sendto(fd, s, len, MSG_NOSIGNAL, (struct sockaddr *)&ss, alen); while (n < 0 && errno == EINTR);
    if (n < 0) return fail(L, errno);
    lua_pushinteger(L, n);
    return 1;
}

/* setsockopt(fd, level, opt, value): value an integer, a boolean or a string of
 * raw bytes. */
static int l_setsockopt(lua_State *L) {
    int fd = fd_arg(L);
    int level = check_int(L, 2), opt = check_int(L, 3);
    int r;
    if (lua_type(L, 4) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, 4, &n);
        r = setsockopt(fd, level, opt, s, (socklen_t)n);
    } else {
        int v = lua_isboolean(L, 4) ? lua_toboolean(L, 4) : check_int(L, 4);
        r = setsockopt(fd, level, opt, &v, sizeof v);
    }
    if (r < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_getsockopt(lua_State *L) {
    int v = 0;
    socklen_t n = sizeof v;
    if (getsockopt(fd_arg(L), check_int(L, 2), check_int(L, 3), &v, &n) < 0)
        return fail(L, errno);
    lua_pushinteger(L, v);
    return 1;
}

static int l_getsockname(lua_State *L) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getsockname(fd_arg(L), (struct sockaddr *)&ss, &len) < 0) return fail(L, errno);
    return push_sockaddr(L, &ss, len);
}

static int l_getpeername(lua_State *L) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    memset(&ss, 0, sizeof ss);
    if (getpeername(fd_arg(L), (struct sockaddr *)&ss, &len) < 0) return fail(L, errno);
    return push_sockaddr(L, &ss, len);
}

static int l_shutdown(lua_State *L) {
    if (shutdown(fd_arg(L), check_int(L, 2)) < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_close(lua_State *L) {
    /* Linux releases the fd even when close reports EINTR: never retry. */
    if (close(fd_arg(L)) < 0 && errno != EINTR) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* sockerror(fd) -> the pending error (SO_ERROR), 0 if none: how a non-blocking
 * connect ends. */
static int l_sockerror(lua_State *L) {
    int v = 0;
    socklen_t n = sizeof v;
    if (getsockopt(fd_arg(L), SOL_SOCKET, SO_ERROR, &v, &n) < 0) v = errno;
    lua_pushinteger(L, v);
    return 1;
}

/* sockinfo(fd) -> family, type, protocol | nil, errno (ENOTSOCK for other fds) */
static int l_sockinfo(lua_State *L) {
    int fd = fd_arg(L), family = 0, type = 0, proto = 0;
    socklen_t n = sizeof family;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &family, &n) < 0) return fail(L, errno);
    n = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &n) < 0) return fail(L, errno);
    n = sizeof proto;
    if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &n) < 0) return fail(L, errno);
    lua_pushinteger(L, family);
    lua_pushinteger(L, type);
    lua_pushinteger(L, proto);
    return 3;
}

/* dup(fd) -> a new close-on-exec, non-blocking descriptor (socket.fromfd). */
static int l_dup(lua_State *L) {
    int fd = fcntl(fd_arg(L), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) return fail(L, errno);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int e = errno;
        close(fd);
        return fail(L, e);
    }
    lua_pushinteger(L, fd);
    return 1;
}

/* ---- raw descriptors (pipes, terminals) for streams */

/* read(fd, n) -> data ("" at end of file) | nil, errno */
static int l_read(lua_State *L) {
    int fd = fd_arg(L);
    lua_Integer n = luaL_checkinteger(L, 2);
    if (n <= 0) { lua_pushliteral(L, ""); return 1; }
    if (n > RBUF) n = RBUF;
    ssize_t r;
    do r = read(fd, rbuf, (size_t)n); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    lua_pushlstring(L, rbuf, (size_t)r);
    return 1;
}

/* write(fd, data, offset) -> n | nil, errno */
static int l_write(lua_State *L) {
    int fd = fd_arg(L);
    size_t len;
    const char *s = luaL_checklstring(L, 2, &len);
    lua_Integer off = luaL_optinteger(L, 3, 0);
    if (off < 0 || (size_t)off > len) return luaL_argerror(L, 3, "offset out of range");
    ssize_t r;
    do r = write(fd, s + off, len - (size_t)off); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    lua_pushinteger(L, r);
    return 1;
}

/* fdkind(fd) -> "file" (regular file or block device: always "ready", use the
 * thread pool), "socket", or "other" (pipe, terminal, character device) */
static int l_fdkind(lua_State *L) {
    struct stat st;
    if (fstat(fd_arg(L), &st) < 0) return fail(L, errno);
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode) || S_ISDIR(st.st_mode)) lua_pushliteral(L, "file");
    else if (S_ISSOCK(st.st_mode)) lua_pushliteral(L, "socket");
    else lua_pushliteral(L, "other");
    return 1;
}

/* reopen(fd, write) -> a new non-blocking descriptor on the same pipe or terminal,
 * with its own file description: making it non-blocking leaves the original (shared
 * with the parent shell) untouched. */
static int l_reopen(lua_State *L) {
    int fd = fd_arg(L);
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int nfd = open(path, (lua_toboolean(L, 2) ? O_WRONLY : O_RDONLY) | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (nfd < 0) return fail(L, errno);
    lua_pushinteger(L, nfd);
    return 1;
}

/* pipe() -> read fd, write fd (non-blocking, close-on-exec) | nil, errno */
static int l_pipe(lua_State *L) {
    int p[2];
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0) return fail(L, errno);
    lua_pushinteger(L, p[0]);
    lua_pushinteger(L, p[1]);
    return 2;
}

static int l_lseek(lua_State *L) {
    off_t r = lseek(fd_arg(L), (off_t)luaL_checkinteger(L, 2), check_int(L, 3));
    if (r < 0) return fail(L, errno);
    lua_pushinteger(L, (lua_Integer)r);
    return 1;
}

int cl_open_socket(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"socket", l_socket}, {"socketpair", l_socketpair}, {"bind", l_bind},
        {"connect", l_connect}, {"listen", l_listen}, {"accept", l_accept},
        {"recv", l_recv}, {"send", l_send}, {"recvfrom", l_recvfrom}, {"sendto", l_sendto},
        {"setsockopt", l_setsockopt}, {"getsockopt", l_getsockopt},
        {"getsockname", l_getsockname}, {"getpeername", l_getpeername},
        {"shutdown", l_shutdown}, {"close", l_close}, {"sockerror", l_sockerror},
        {"sockinfo", l_sockinfo}, {"dup", l_dup}, {"read", l_read}, {"write", l_write},
        {"fdkind", l_fdkind}, {"reopen", l_reopen}, {"lseek", l_lseek}, {"pipe", l_pipe},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
#define C(x) lua_pushinteger(L, x); lua_setfield(L, -2, #x)
    C(AF_INET); C(AF_INET6); C(AF_UNIX); C(AF_UNSPEC);
    C(SOCK_STREAM); C(SOCK_DGRAM); C(SOCK_RAW);
    C(SOL_SOCKET); C(SO_REUSEADDR); C(SO_REUSEPORT); C(SO_KEEPALIVE); C(SO_BROADCAST);
    C(SO_RCVBUF); C(SO_SNDBUF); C(SO_ERROR); C(SO_TYPE); C(SO_LINGER);
    C(IPPROTO_IP); C(IPPROTO_IPV6); C(IPPROTO_TCP); C(IPPROTO_UDP); C(IPV6_V6ONLY);
    C(TCP_NODELAY); C(TCP_KEEPIDLE); C(TCP_KEEPINTVL); C(TCP_KEEPCNT);
    C(SHUT_RD); C(SHUT_WR); C(SHUT_RDWR);
    C(AI_PASSIVE); C(AI_CANONNAME); C(AI_NUMERICHOST); C(AI_ADDRCONFIG);
    C(O_RDONLY); C(O_WRONLY); C(O_RDWR); C(O_CREAT); C(O_TRUNC); C(O_APPEND); C(O_EXCL);
    C(O_CLOEXEC);
    C(SEEK_SET); C(SEEK_CUR); C(SEEK_END);
    C(EAGAIN); C(EINPROGRESS); C(EINTR); C(EBADF); C(EBUSY); C(EPERM); C(EMFILE); C(ENFILE);
    C(ENOBUFS); C(ENOMEM); C(ECONNABORTED); C(EPROTO); C(EPIPE); C(ECONNRESET);
    C(ENOTSOCK); C(ENXIO); C(EINVAL); C(EALREADY); C(EISCONN);
#undef C
    return 1;
}

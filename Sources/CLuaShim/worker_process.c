/* Worker processes: `curio-lua --curio-worker-process PARENT_PID` serves calls on
   descriptor 3 (one end of a socketpair), framed as a 4-byte length and a codec
   message, through the same worker Lua state code as the thread pool. The child
   dies with its parent (PR_SET_PDEATHSIG). The parent side (spawn, kill, reap)
   is curio.cworkerproc, driven by lua/curio/workers.lua. */
#include "CLuaShim.h"
#include "cl_workers.h"
#include "codec.h"
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
void cl_worker_set_process_mode(void);
void cl_worker_configure(const char *path, const char *cpath);

#define WORKER_FD 3

static int read_full(int fd, void *p, size_t n) {
    char *c = p;
    while (n > 0) {
        ssize_t r = read(fd, c, n);
        if (r == 0) return -1;
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t n) {
    const char *c = p;
    while (n > 0) {
        ssize_t r = write(fd, c, n);
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Reads one frame into a new message (no handles); NULL at end of input. */
static cl_msg *read_frame(int fd) {
    uint32_t len;
    if (read_full(fd, &len, 4)) return NULL;
    if (len > CODEC_MAXSIZE) return NULL;
    cl_msg *m = cl_msg_new();
    if (!m) return NULL;
    m->data = malloc(len ? len : 1);
    if (!m->data || read_full(fd, m->data, len)) { cl_msg_free(m); return NULL; }
    m->len = m->cap = len;
    return m;
}

static const char *string_at(cl_msg *m, size_t *pos, size_t *len) {
    /* the config frame: two short or long strings (codec tags 7 / 6) */
    if (*pos >= m->len) return NULL;
    unsigned char tag = (unsigned char)m->data[*pos];
    size_t n, hdr;
    if (tag == 7 && *pos + 2 <= m->len) { n = (unsigned char)m->data[*pos + 1]; hdr = 2; }
    else if (tag == 6 && *pos + 5 <= m->len) { uint32_t v; memcpy(&v, m->data + *pos + 1, 4); n = v; hdr = 5; }
    else return NULL;
    if (*pos + hdr + n > m->len) return NULL;
    const char *s = m->data + *pos + hdr;
    *pos += hdr + n;
    *len = n;
    return s;
}

int cl_worker_process_main(long parent) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (parent > 0 && getppid() != (pid_t)parent) return 1; /* the parent is already gone */
    signal(SIGINT, SIG_IGN); /* ^C in a terminal goes to the parent; it cancels */
    int fl = fcntl(WORKER_FD, F_GETFL);
    if (fl < 0) return 2;
    fcntl(WORKER_FD, F_SETFL, fl & ~O_NONBLOCK);
    fcntl(WORKER_FD, F_SETFD, FD_CLOEXEC); /* not inherited by programs fn starts */
    cl_worker_set_process_mode();
    /* first frame: package.path and package.cpath */
    cl_msg *cfg = read_frame(WORKER_FD);
    if (!cfg) return 0;
    size_t pos = 0, n1 = 0, n2 = 0;
    const char *p = string_at(cfg, &pos, &n1), *c = string_at(cfg, &pos, &n2);
    if (p && c) {
        char *ps = strndup(p, n1), *cs = strndup(c, n2);
        if (ps && cs) cl_worker_configure(ps, cs);
        free(ps);
        free(cs);
    }
    cl_msg_free(cfg);
    for (;;) {
        cl_msg *in = read_frame(WORKER_FD);
        if (!in) return 0;
        cl_msg *out = cl_worker_call(in);
        if (!out) return 3;
        uint32_t len = (uint32_t)out->len;
        int rc = write_full(WORKER_FD, &len, 4) || write_full(WORKER_FD, out->data ? out->data : "", out->len);
        cl_msg_free(out);
        if (rc) return 0;
    }
}

/* ---- curio.cworkerproc: the parent side */

/* spawn(exe, fd) -> pid | nil, errno: starts a worker process serving on fd. */
static int l_spawn(lua_State *L) {
    const char *exe = luaL_checkstring(L, 1);
    int fd = (int)luaL_checkinteger(L, 2);
    int src = fd, tmp = -1;
    if (fd == WORKER_FD) { tmp = fcntl(fd, F_DUPFD_CLOEXEC, 10); src = tmp; }
    char parent[32];
    snprintf(parent, sizeof parent, "%ld", (long)getpid());
    char *argv[] = { (char *)exe, "--curio-worker-process", parent, NULL };
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, src, WORKER_FD);
    pid_t pid;
    int rc = src < 0 ? errno : posix_spawn(&pid, exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (tmp >= 0) close(tmp);
    if (rc != 0) {
        lua_pushnil(L);
        lua_pushinteger(L, rc);
        return 2;
    }
    lua_pushinteger(L, pid);
    return 1;
}

/* kill_reap(pid) -> how it ended ("exit status 1", "signal 9"): SIGKILL, then
   waitpid, so no zombie is left. */
static int l_kill_reap(lua_State *L) {
    pid_t pid = (pid_t)luaL_checkinteger(L, 1);
    int st = 0;
    pid_t r;
    do r = waitpid(pid, &st, WNOHANG); while (r < 0 && errno == EINTR);
    if (r == 0) {
        kill(pid, SIGKILL);
        do r = waitpid(pid, &st, 0); while (r < 0 && errno == EINTR);
    }
    if (r < 0) lua_pushstring(L, "already reaped");
    else if (WIFEXITED(st)) lua_pushfstring(L, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) lua_pushfstring(L, "signal %d", WTERMSIG(st));
    else lua_pushliteral(L, "unknown status");
    return 1;
}

static int l_nproc(lua_State *L) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    lua_pushinteger(L, n > 0 ? n : 1);
    return 1;
}

/* frame(box) -> string: a message as a frame (4-byte length, then the bytes). */
static int l_frame(lua_State *L) {
    cl_msg **b = luaL_checkudata(L, 1, "curio.Msg");
    if (!*b) return luaL_error(L, "empty message");
    cl_msg *m = *b;
    if (m->nhandles) return luaL_error(L, "message holds Universal objects");
    uint32_t len = (uint32_t)m->len;
    luaL_Buffer buf;
    luaL_buffinit(L, &buf);
    luaL_addlstring(&buf, (const char *)&len, 4);
    luaL_addlstring(&buf, m->data ? m->data : "", m->len);
    luaL_pushresult(&buf);
    return 1;
}

/* frame_length(s) -> n: the length in a frame's 4-byte header */
static int l_frame_length(lua_State *L) {
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    if (n < 4) return luaL_error(L, "short frame header");
    uint32_t len;
    memcpy(&len, s, 4);
    lua_pushinteger(L, len);
    return 1;
}

int cl_open_workerproc(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"spawn", l_spawn}, {"kill_reap", l_kill_reap}, {"nproc", l_nproc},
        {"frame", l_frame}, {"frame_length", l_frame_length}, {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushinteger(L, (lua_Integer)CODEC_MAXSIZE);
    lua_setfield(L, -2, "MAXSIZE");
    return 1;
}

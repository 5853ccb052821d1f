/* curio.cprocess: the process syscalls under lua/curio/subprocess.lua and
 * lua/curio/signal.lua. Children are started with posix_spawn (glibc: clone with
 * CLONE_VM|CLONE_VFORK, then exec; never fork of a threaded process), exit is
 * noticed through a pidfd on the kernel's poller, and children nobody waits for
 * are reaped by a small detached thread, so no zombie is left behind.
 * Every descriptor this library makes is close-on-exec: a child inherits only the
 * three descriptors it is given. These are C frames: raising is fine here;
 * argument types are checked in Lua, with messages naming the Lua-level function. */
#define _GNU_SOURCE
#include "CLuaShim.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void reap_orphans(void);

/* An int argument; a number outside int's range is an error, never truncated
 * (a truncated pid could name another process). */
static int int_arg(lua_State *L, int i) {
    lua_Integer v = luaL_checkinteger(L, i);
    luaL_argcheck(L, v >= INT_MIN && v <= INT_MAX, i, "out of range");
    return (int)v;
}

static int fail(lua_State *L, int err) {
    lua_pushnil(L);
    lua_pushinteger(L, err);
    return 2;
}

/* A NULL-terminated array of the strings in the list at stack index idx (the
 * strings stay anchored in that table while the array is used). */
static char **string_array(lua_State *L, int idx) {
    lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
    char **a = lua_newuserdatauv(L, sizeof(char *) * (size_t)(n + 1), 0);
    for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        a[i - 1] = (char *)lua_tostring(L, -1);
        lua_pop(L, 1);
    }
    a[n] = NULL;
    return a;
}

/* Whether path names an executable regular file. */
static int executable(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/* Looks `prog` up on `path` (a PATH value) into out; returns 0, or ENOENT/EACCES. */
static int find_program(const char *prog, const char *path, char *out, size_t outlen) {
    int err = ENOENT;
    if (!path) path = "/bin:/usr/bin";
    size_t plen = strlen(prog);
    for (const char *p = path;; p++) {
        const char *end = strchrnul(p, ':');
        const char *dir = p;
        size_t dlen = (size_t)(end - p);
        if (dlen == 0) { dir = "."; dlen = 1; } /* an empty entry is the current directory */
        if (dlen + 1 + plen + 1 <= outlen) {
            memcpy(out, dir, dlen);
            out[dlen] = '/';
            memcpy(out + dlen + 1, prog, plen + 1);
            if (executable(out)) return 0;
            if (access(out, F_OK) == 0) err = EACCES;
        }
        p = end;
        if (*end == '\0') break;
    }
    return err;
}

/* spawn(argv, env|nil, cwd|nil, fd0, fd1, fd2, path|nil) -> pid, pidfd | nil, errno, what
 * argv and env are lists of strings ("NAME=value" for env; nil: ours). fdN: the
 * descriptor the child gets as N, or -1 to inherit ours. `path`: the PATH to
 * search when argv[1] has no "/" (nil: our PATH). pidfd is -1 where pidfd_open
 * is unavailable (Linux < 5.3). `what` says whether "cwd" or the program failed. */
static int l_spawn(lua_State *L) {
    luaL_checktype(L, 1, LUA_TTABLE);
    reap_orphans();
    char **argv = string_array(L, 1);
    char **envp = lua_istable(L, 2) ? string_array(L, 2) : environ;
    const char *cwd = luaL_optstring(L, 3, NULL);
    int fds[3];
    for (int i = 0; i < 3; i++) fds[i] = int_arg(L, 4 + i);
    const char *search = luaL_optstring(L, 7, NULL);
    if (!argv[0]) return fail(L, EINVAL);

    const char *prog = argv[0];
    char found[4096];
    if (!strchr(prog, '/')) {
        int e = find_program(prog, search ? search : getenv("PATH"), found, sizeof found);
        if (e) { fail(L, e); lua_pushliteral(L, "program"); return 3; }
        prog = found;
    }

    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    /* A descriptor below 3 is copied above 2 first: dup2 onto itself would not
     * clear close-on-exec, and the copies cannot clobber one another. */
    int tmp[3] = {-1, -1, -1};
    int err = 0;
    for (int i = 0; i < 3 && !err; i++) {
        int src = fds[i];
        if (src < 0) continue;
        if (src < 3) {
            tmp[i] = fcntl(src, F_DUPFD_CLOEXEC, 3);
            if (tmp[i] < 0) { err = errno; break; }
            src = tmp[i];
        }
        err = posix_spawn_file_actions_adddup2(&fa, src, i);
    }
    if (!err && cwd) err = posix_spawn_file_actions_addchdir_np(&fa, cwd);
    /* Also closes what this process inherited without close-on-exec (as Python's
     * close_fds): the child gets its three standard descriptors and nothing else. */
    if (!err) err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    /* The child starts with default dispositions for the signals we ignore (an
     * ignored SIGPIPE would survive exec) and with no signal blocked. */
    sigset_t def, none;
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGXFSZ);
    sigemptyset(&none);
    posix_spawnattr_setsigdefault(&attr, &def);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
    pid_t pid = -1;
    if (!err) err = posix_spawn(&pid, prog, &fa, &attr, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 3; i++) if (tmp[i] >= 0) close(tmp[i]);
    if (err) {
        fail(L, err);
        /* posix_spawn reports chdir and exec failures alike: tell them apart. */
        struct stat st;
        int cwd_bad = cwd && (stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode) || access(cwd, X_OK) != 0);
        lua_pushstring(L, cwd_bad ? "cwd" : "program");
        return 3;
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0); /* close-on-exec by default */
    lua_pushinteger(L, pid);
    lua_pushinteger(L, pidfd < 0 ? -1 : pidfd);
    return 2;
}

/* Decodes a wait status: the exit code, or -N when killed by signal N. */
static lua_Integer returncode(int status) {
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return -1;
}

/* wait(pid, block) -> returncode | false (still running) | nil, errno */
static int l_wait(lua_State *L) {
    pid_t pid = (pid_t)int_arg(L, 1);
    int flags = lua_toboolean(L, 2) ? 0 : WNOHANG;
    int status = 0;
    pid_t r;
    do r = waitpid(pid, &status, flags); while (r < 0 && errno == EINTR);
    if (r < 0) return fail(L, errno);
    if (r == 0) { lua_pushboolean(L, 0); return 1; }
    lua_pushinteger(L, returncode(status));
    return 1;
}

/* kill(pid, sig) -> true | nil, errno */
static int l_kill(lua_State *L) {
    if (kill((pid_t)int_arg(L, 1), int_arg(L, 2)) < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

static void *reaper(void *arg) {
    pid_t pid = (pid_t)(intptr_t)arg;
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
    return NULL;
}

/* Children whose reaper thread could not be made: retried at each spawn. */
#define MAX_ORPHANS 256
static pthread_mutex_t orphans_lock = PTHREAD_MUTEX_INITIALIZER;
static pid_t orphans[MAX_ORPHANS];
static int n_orphans; /* guarded by orphans_lock */

static void reap_orphans(void) {
    pthread_mutex_lock(&orphans_lock);
    for (int i = 0; i < n_orphans;) {
        if (waitpid(orphans[i], NULL, WNOHANG) != 0) orphans[i] = orphans[--n_orphans];
        else i++;
    }
    pthread_mutex_unlock(&orphans_lock);
}

/* reap_later(pid): a child nobody will wait for (its Popen was collected while it
 * ran) is waited for by a detached thread, so it never stays a zombie. If no
 * thread can be made it is retried at each later spawn. */
static int l_reap_later(lua_State *L) {
    pid_t pid = (pid_t)int_arg(L, 1);
    if (waitpid(pid, NULL, WNOHANG) != 0) return 0; /* gone already, or not ours */
    pthread_attr_t a;
    pthread_t th;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    /* Small, but room for the static TLS the process carries (64 KiB of it is
     * csocket's receive buffer). */
    pthread_attr_setstacksize(&a, 512 * 1024);
    /* The thread must not take signals meant for the kernel's thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int r = pthread_create(&th, &a, reaper, (void *)(intptr_t)pid);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&a);
    if (r != 0) {
        pthread_mutex_lock(&orphans_lock);
        if (n_orphans < MAX_ORPHANS) orphans[n_orphans++] = pid;
        pthread_mutex_unlock(&orphans_lock);
    }
    return 0;
}

/* pipe() -> read fd, write fd: close-on-exec, blocking (set_nonblocking makes
 * our end non-blocking; the child's end stays blocking). */
static int l_pipe(lua_State *L) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return fail(L, errno);
    lua_pushinteger(L, p[0]);
    lua_pushinteger(L, p[1]);
    return 2;
}

static int l_set_nonblocking(lua_State *L) {
    int fd = int_arg(L, 1);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0) return fail(L, errno);
    fl = lua_toboolean(L, 2) ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    if (fcntl(fd, F_SETFL, fl) < 0) return fail(L, errno);
    lua_pushboolean(L, 1);
    return 1;
}

/* devnull() -> a close-on-exec descriptor on /dev/null (read and write). */
static int l_devnull(lua_State *L) {
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (fd < 0) return fail(L, errno);
    lua_pushinteger(L, fd);
    return 1;
}

static int l_close(lua_State *L) {
    close(int_arg(L, 1));
    return 0;
}

/* fdvalid(fd) -> whether fd is an open descriptor */
static int l_fdvalid(lua_State *L) {
    lua_pushboolean(L, fcntl(int_arg(L, 1), F_GETFD) >= 0);
    return 1;
}

static int l_getpid(lua_State *L) {
    lua_pushinteger(L, getpid());
    return 1;
}

/* SIGPIPE is ignored once the library uses pipes: writing to a pipe whose reader
 * has gone then fails with EPIPE instead of killing the process. A disposition
 * someone set on purpose (a handler) is left alone. */
static void ignore_sigpipe(void) {
    struct sigaction old;
    if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL && !(old.sa_flags & SA_SIGINFO)) {
        signal(SIGPIPE, SIG_IGN);
    }
}

int cl_open_process(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"spawn", l_spawn}, {"wait", l_wait}, {"kill", l_kill}, {"reap_later", l_reap_later},
        {"pipe", l_pipe}, {"set_nonblocking", l_set_nonblocking}, {"devnull", l_devnull},
        {"close", l_close}, {"fdvalid", l_fdvalid}, {"getpid", l_getpid},
        {NULL, NULL},
    };
    ignore_sigpipe();
    luaL_newlib(L, fns);
    lua_newtable(L);
#define S(x) lua_pushinteger(L, x); lua_setfield(L, -2, #x)
    S(SIGHUP); S(SIGINT); S(SIGQUIT); S(SIGILL); S(SIGTRAP); S(SIGABRT); S(SIGBUS);
    S(SIGFPE); S(SIGKILL); S(SIGUSR1); S(SIGSEGV); S(SIGUSR2); S(SIGPIPE); S(SIGALRM);
    S(SIGTERM); S(SIGCHLD); S(SIGCONT); S(SIGSTOP); S(SIGTSTP); S(SIGTTIN); S(SIGTTOU);
    S(SIGURG); S(SIGXCPU); S(SIGXFSZ); S(SIGVTALRM); S(SIGPROF); S(SIGWINCH); S(SIGIO);
    S(SIGPWR); S(SIGSYS);
#undef S
    lua_setfield(L, -2, "signals");
    lua_pushinteger(L, SIGRTMIN); lua_setfield(L, -2, "SIGRTMIN");
    lua_pushinteger(L, SIGRTMAX); lua_setfield(L, -2, "SIGRTMAX");
    lua_pushinteger(L, ENOENT); lua_setfield(L, -2, "ENOENT");
    lua_pushinteger(L, ECHILD); lua_setfield(L, -2, "ECHILD");
    lua_pushinteger(L, ESRCH); lua_setfield(L, -2, "ESRCH");
    return 1;
}

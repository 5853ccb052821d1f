#include "CLuaShim.h"
#include <errno.h>
#include <string.h>

#define E(x) {x, #x}
static const struct { int code; const char *name; } names[] = {
    E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC),
    E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(EBUSY),
    E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL), E(ENFILE),
    E(EMFILE), E(ENOTTY), E(EFBIG), E(ENOSPC), E(ESPIPE), E(EROFS), E(EMLINK),
    E(EPIPE), E(EDOM), E(ERANGE), E(ENAMETOOLONG), E(ENOSYS), E(ENOTEMPTY), E(ELOOP),
    E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE), E(ENOPROTOOPT),
    E(EPROTONOSUPPORT), E(EOPNOTSUPP), E(EAFNOSUPPORT), E(EADDRINUSE),
    E(EADDRNOTAVAIL), E(ENETDOWN), E(ENETUNREACH), E(ECONNABORTED), E(ECONNRESET),
    E(ENOBUFS), E(EISCONN), E(ENOTCONN), E(ETIMEDOUT), E(ECONNREFUSED), E(EHOSTDOWN),
    E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS), E(ESHUTDOWN),
};

const char *cl_errname(int code) {
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code) return names[i].name;
    return NULL;
}

int l_errname_impl(lua_State *L) {
    int code = (int)luaL_checkinteger(L, 1);
    const char *n = cl_errname(code);
    if (n) lua_pushstring(L, n); else lua_pushfstring(L, "E%d", code);
    return 1;
}

int l_strerror_impl(lua_State *L) {
    lua_pushstring(L, strerror((int)luaL_checkinteger(L, 1)));
    return 1;
}

#include <dirent.h>
#include <sys/stat.h>

/* core.listdir(path) -> { {name=, dir=bool}, ... } or nil, message */
int l_listdir_impl(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    DIR *d = opendir(path);
    if (!d) {
        lua_pushnil(L);
        lua_pushfstring(L, "%s: %s", path, strerror(errno));
        return 2;
    }
    lua_newtable(L);
    int i = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        lua_createtable(L, 0, 2);
        lua_pushstring(L, e->d_name);
        lua_setfield(L, -2, "name");
        int isdir = e->d_type == DT_DIR;
        if (e->d_type == DT_UNKNOWN || e->d_type == DT_LNK) {
            struct stat st;
            lua_pushfstring(L, "%s/%s", path, e->d_name);
            if (stat(lua_tostring(L, -1), &st) == 0) isdir = S_ISDIR(st.st_mode);
            lua_pop(L, 1);
        }
        lua_pushboolean(L, isdir);
        lua_setfield(L, -2, "dir");
        lua_rawseti(L, -2, ++i);
    }
    closedir(d);
    return 1;
}

/* core.isdir(path) -> bool */
int l_isdir_impl(lua_State *L) {
    struct stat st;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &st) == 0 && S_ISDIR(st.st_mode));
    return 1;
}

#include <unistd.h>
#include <limits.h>
/* core.exepath() -> absolute path of the running executable */
int l_exepath_impl(lua_State *L) {
    char buf[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n < 0) return 0;
    lua_pushlstring(L, buf, (size_t)n);
    return 1;
}

/* core.getpid() */
int l_getpid_impl(lua_State *L) {
    lua_pushinteger(L, (lua_Integer)getpid());
    return 1;
}

/* core.isatty(fd) */
int l_isatty_impl(lua_State *L) {
    lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
    return 1;
}

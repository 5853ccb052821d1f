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

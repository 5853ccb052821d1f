/*
 * libFuzzer target: address parsing (to_sockaddr / push_sockaddr of socket.c, what
 * bind/connect/sendto use). Input: a family byte, a port (2 bytes), then the host.
 * Checks: no crash or sanitizer report; a numeric host that parses gives back an
 * address that parses again to the same bytes; a non-numeric one is refused (0).
 * Built and run by scripts/fuzz.sh.
 * fuzz flags: -detect_leaks=0
 * (The Lua state lives across inputs; libFuzzer's per-input leak check scanned the
 * whole heap whenever an input left a string to the collector: 30x slower.)
 */
#include "../../Sources/CLuaShim/socket.c"
#include <lauxlib.h>
#include <lualib.h>
#include <stdlib.h>

static int parse(lua_State *L) {
    int family = (int)lua_tointeger(L, 3);
    struct sockaddr_storage ss, again;
    socklen_t len = 0, len2 = 0;
    int r = to_sockaddr(L, family, 1, &ss, &len);
    if (r == 1 && family != AF_UNIX) {
        int n = push_sockaddr(L, &ss, len);
        if (n != 2) abort();
        lua_settop(L, n + 3);
        lua_replace(L, 2); /* port */
        lua_replace(L, 1); /* host */
        lua_settop(L, 2);
        if (to_sockaddr(L, family, 1, &again, &len2) != 1 || len2 != len) abort();
        if (family == AF_INET &&
            memcmp(&((struct sockaddr_in *)&ss)->sin_addr, &((struct sockaddr_in *)&again)->sin_addr, 4) != 0)
            abort();
        if (family == AF_INET6 &&
            memcmp(&((struct sockaddr_in6 *)&ss)->sin6_addr, &((struct sockaddr_in6 *)&again)->sin6_addr, 16) != 0)
            abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lua_State *L;
    if (!L) L = luaL_newstate();
    if (size < 3) return 0;
    static const int families[] = { AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC };
    int family = families[data[0] % 4];
    lua_settop(L, 0);
    lua_pushcfunction(L, parse);
    lua_pushlstring(L, (const char *)data + 3, size - 3);
    lua_pushinteger(L, (data[1] << 8 | data[2]) - (data[0] & 0x80 ? 70000 : 0));
    lua_pushinteger(L, family);
    lua_pcall(L, 3, 0, 0); /* an embedded NUL raises (luaL_checklstring): fine */
    return 0;
}

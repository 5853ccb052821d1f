#include "CEmbedBench.h"
#include <lauxlib.h>

int bench_c_add(lua_State *L) {
    lua_Integer a = luaL_checkinteger(L, 1), b = luaL_checkinteger(L, 2);
    lua_pushinteger(L, a + b);
    return 1;
}

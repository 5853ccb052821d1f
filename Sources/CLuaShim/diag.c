// Diagnostics (curio.diagnostics): the kernel's tracer reports an event by calling
// the Lua function stored at registry["curio.diagnostics"], in protected mode.
#include "CLuaShim.h"
#include <stdio.h>

typedef struct {
    const char *kind;
    int ref;
    const char *detail;
    double seconds;
} diag_event;

static int event_p(lua_State *L) {
    const diag_event *e = lua_touserdata(L, 1);
    if (lua_getfield(L, LUA_REGISTRYINDEX, "curio.diagnostics") != LUA_TFUNCTION) return 0;
    lua_pushstring(L, e->kind);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->ref);
    lua_pushstring(L, e->detail);
    lua_pushnumber(L, e->seconds);
    lua_call(L, 4, 0);
    return 0;
}

int cl_diag_event(lua_State *L, const char *kind, int ref, const char *detail, double seconds,
                  char *err, size_t errlen) {
    if (!lua_checkstack(L, 8)) return -1;
    int top = lua_gettop(L);
    diag_event e = {kind, ref, detail, seconds};
    lua_pushcfunction(L, event_p);
    lua_pushlightuserdata(L, &e);
    return cl_pcall_into(L, 1, top, err, errlen);
}

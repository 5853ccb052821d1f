// CStubs: the LuaLS annotation stubs of types/, compiled into the curio-lua
// executable so that `curio-lua --types DIR` can write them out.
#ifndef CSTUBS_H
#define CSTUBS_H

// Adds `curio.stubs` to package.preload of the Lua state `L` (a lua_State*), in a
// protected call. Returns 0, or -1 if that failed.
int curio_stubs_install(void *L);

#endif

// The C reference for the embedding benchmark: the same function as the Swift
// one, as a plain lua_CFunction.
#include <lua.h>
int bench_c_add(lua_State *L);

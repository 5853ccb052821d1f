/*
 * libFuzzer target: the transfer codec's decoder (codec.c, what a worker process or
 * a channel receives from the other end). The input is the message bytes, decoded
 * as `curio.ccodec.loads` does (no Universal-object handles: bytes from outside).
 * Checks: no crash, sanitizer report or hang (depth and sizes are bounded by the
 * bytes, not by what they claim); a corrupt message raises "corrupt message: ...";
 * a message that decodes encodes again, and that encoding decodes to the same
 * values (deep comparison: types, integer/float kind, NaN, tables key by key).
 * Built and run by scripts/fuzz.sh.
 * fuzz flags: -detect_leaks=0
 * (The Lua state lives across inputs and its collector frees later: libFuzzer's
 * per-input leak check, run whenever an input mallocs more than it frees, scanned
 * the whole heap on nearly every input: most of the run time.)
 */
#include "../../Sources/CLuaShim/codec.c"
#include <lualib.h>

/* Universal objects are not linked in: with no handles allowed they are never used. */
void cl_uobj_retain(cl_uobj *o) { (void)o; abort(); }
void cl_uobj_release(cl_uobj *o) { (void)o; abort(); }
int cl_uobj_kind(cl_uobj *o) { (void)o; abort(); }
cl_uobj *cl_uobj_check(lua_State *L, int idx) { (void)L; (void)idx; return NULL; }
int cl_uobj_push(lua_State *L, cl_uobj *o) { (void)L; (void)o; abort(); }

static const char *driver =
    "local codec = ...\n"
    "local function same(a, b, seen)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b)) end\n"
    "  if type(a) ~= 'table' then return a == b end\n"
    "  if seen[a] then return seen[a] == b end\n"
    "  seen[a] = b\n"
    "  local n = 0\n"
    "  for k, v in next, a do\n"
    "    n = n + 1\n"
    "    if type(k) == 'table' then -- keys that are tables: matched by position, not identity\n"
    "    elseif not same(v, rawget(b, k), seen) then return false end\n"
    "  end\n"
    "  for _ in next, b do n = n - 1 end\n"
    "  return n == 0\n"
    "end\n"
    "return function(bytes)\n"
    "  local r = table.pack(pcall(codec.loads, bytes))\n"
    "  if not r[1] then\n"
    "    if type(r[2]) ~= 'string' or not r[2]:find('corrupt message: ', 1, true) then\n"
    "      error('decoder raised a non-codec error: ' .. tostring(r[2]))\n"
    "    end\n"
    "    return\n"
    "  end\n"
    "  local once = assert(codec.dumps(table.unpack(r, 2, r.n)))\n"
    "  local again = table.pack(codec.loads(once))\n"
    "  if again.n ~= r.n - 1 then error('re-decoded value count differs') end\n"
    "  local seen = {}\n"
    "  for i = 1, again.n do\n"
    "    if not same(r[i + 1], again[i], seen) then error('value #' .. i .. ' differs after a round trip') end\n"
    "  end\n"
    "end\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        if (luaL_loadbuffer(L, driver, strlen(driver), "=codec fuzz driver") != LUA_OK) abort();
        luaL_requiref(L, "curio.ccodec", cl_open_codec, 0);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); abort(); }
        lua_setglobal(L, "fuzz_one");
    }
    lua_getglobal(L, "fuzz_one");
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        fprintf(stderr, "codec check failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    /* Keep the state small between inputs (a message may build large tables). */
    lua_gc(L, LUA_GCSTEP, 0);
    return 0;
}

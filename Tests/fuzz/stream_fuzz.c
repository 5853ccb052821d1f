/*
 * libFuzzer target: the stream line reader of lua/curio/io.lua (Stream:readline,
 * read(n), read("l"), read("a") over a buffered raw source). The input is split in
 * two: the first byte says how many of the following bytes are operations; the
 * rest is the data, delivered by a fake raw:recv in chunks whose sizes come from
 * the operations too. Checks: what the reads return, put together, is the data
 * exactly, in order, and every line ends at its first "\n". The module runs in a
 * plain Lua state with the kernel stubbed out (a source that never blocks needs
 * no kernel). Built and run by scripts/fuzz.sh.
 * fuzz flags: -detect_leaks=0
 * (The Lua state lives across inputs and its collector frees later: libFuzzer's
 * per-input leak check, run whenever an input mallocs more than it frees, scanned
 * the whole heap on nearly every input: most of the run time.)
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef CURIO_LUA_DIR
#define CURIO_LUA_DIR "lua"
#endif

static const char *driver =
    "package.path = ... .. '/?.lua;' .. package.path\n"
    "local any = setmetatable({}, { __index = function() return 0 end })\n"
    "package.preload['curio.csocket'] = function() return any end\n"
    "package.preload['curio.kernel'] = function()\n"
    "  local function no() error('no kernel in the fuzz target') end\n"
    "  return { T = any, K = any, trap = no, trap_nothrow = no, kcall = no, close_fd = no,\n"
    "           current = function() return nil end, not_in_task = no }\n"
    "end\n"
    "local io_ = require 'curio.io'\n"
    "return function(ops, data)\n"
    "  local at, op = 1, 0\n"
    "  local function nextop() op = op % #ops + 1; return ops:byte(op) end\n"
    "  local raw = { recv = function(_, n)\n"
    "    if at > #data then return nil end\n"
    "    local k = math.min(n, 1 + nextop() * 3)\n"
    "    local chunk = data:sub(at, at + k - 1); at = at + k; return chunk end,\n"
    "    close = function() end }\n"
    "  local s = io_.SocketStream(raw)\n"
    "  local got = {}\n"
    "  while true do\n"
    "    local o = nextop() % 4\n"
    "    local r\n"
    "    if o == 0 then r = s:readline()\n"
    "      if r and r:find('\\n', 1, true) and r:find('\\n', 1, true) ~= #r then error('a line past its newline') end\n"
    "    elseif o == 1 then r = s:read(1 + nextop())\n"
    "    elseif o == 2 then r = s:read('l'); if r then assert(not r:find('\\n', 1, true)); r = r .. '\\n' end\n"
    "    else r = s:read('a'); if r == '' then r = nil end end\n"
    "    if r == nil then break end\n"
    "    got[#got + 1] = r\n"
    "  end\n"
    "  local all = table.concat(got)\n"
    "  if all ~= data and not (all == data .. '\\n' and data:sub(-1) ~= '\\n') then\n"
    "    error(('read %q, sent %q'):format(all, data))\n"
    "  end\n"
    "end\n";

/* Coverage of the Lua code: libFuzzer sees only C edges, so a line hook on the
   module counts (previous line, line) pairs of lua/curio/io.lua in libFuzzer's
   extra counters, and inputs that reach new paths of the reader are kept. */
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[1 << 14];
static int prev_line;

static void line_hook(lua_State *L, lua_Debug *ar) {
    /* All functions of a loaded chunk share its source string: once io.lua's is
       found, compare pointers (strstr on every line was most of the run time). */
    static const char *io_source;
    if (!lua_getinfo(L, "S", ar)) return;
    if (ar->source != io_source) {
        if (io_source || !strstr(ar->source, "curio/io.lua")) return;
        io_source = ar->source;
    }
    unsigned i = ((unsigned)prev_line * 2654435761u ^ (unsigned)ar->currentline) & ((1 << 14) - 1);
    lua_edges[i]++;
    prev_line = ar->currentline;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static lua_State *L;
    if (!L) {
        L = luaL_newstate();
        luaL_openlibs(L);
        lua_sethook(L, line_hook, LUA_MASKLINE, 0);
        if (luaL_loadbuffer(L, driver, strlen(driver), "=fuzz driver") != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); abort(); }
        lua_pushstring(L, getenv("CURIO_LUA_DIR") ? getenv("CURIO_LUA_DIR") : CURIO_LUA_DIR);
        if (lua_pcall(L, 1, 1, 0) != LUA_OK) { fprintf(stderr, "%s\n", lua_tostring(L, -1)); abort(); }
        lua_setglobal(L, "fuzz_one");
    }
    if (size < 2) return 0;
    size_t nops = 1 + data[0] % 32;
    if (nops > size - 1) nops = size - 1;
    lua_getglobal(L, "fuzz_one");
    lua_pushlstring(L, (const char *)data + 1, nops);
    lua_pushlstring(L, (const char *)data + 1 + nops, size - 1 - nops);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        fprintf(stderr, "stream check failed: %s\n", lua_tostring(L, -1));
        abort();
    }
    return 0;
}

// curio.stubs: the files of types/ (LuaLS `---@meta` stubs), embedded, and
// write(dir) to put them on disk. C called from Lua (may raise).
#pragma clang diagnostic ignored "-Wc23-extensions"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <lua.h>
#include <lauxlib.h>
#include "CStubs.h"

static const char s_curio[] = {
#embed "../../types/curio.lua"
, 0};
static const char s_errors[] = {
#embed "../../types/curio/errors.lua"
, 0};
static const char s_socket[] = {
#embed "../../types/curio/socket.lua"
, 0};
static const char s_test[] = {
#embed "../../types/curio/test.lua"
, 0};

static const struct { const char *path; const char *text; size_t len; } files[] = {
    {"curio.lua", s_curio, sizeof s_curio - 1},
    {"curio/errors.lua", s_errors, sizeof s_errors - 1},
    {"curio/socket.lua", s_socket, sizeof s_socket - 1},
    {"curio/test.lua", s_test, sizeof s_test - 1},
};
#define NFILES (sizeof files / sizeof files[0])

// files() -> { [relative path] = text }
static int l_files(lua_State *L) {
    lua_createtable(L, 0, (int)NFILES);
    for (size_t i = 0; i < NFILES; i++) {
        lua_pushlstring(L, files[i].text, files[i].len);
        lua_setfield(L, -2, files[i].path);
    }
    return 1;
}

static int mkdir_ok(const char *p) { return mkdir(p, 0755) == 0 || errno == EEXIST; }

// write(dir) -> list of written paths, or nil, message.
static int l_write(lua_State *L) {
    const char *dir = luaL_checkstring(L, 1);
    char path[4096];
    if (!mkdir_ok(dir)) goto fail_dir;
    snprintf(path, sizeof path, "%s/curio", dir);
    if (!mkdir_ok(path)) goto fail_path;
    lua_createtable(L, (int)NFILES, 0);
    for (size_t i = 0; i < NFILES; i++) {
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, files[i].path) >= sizeof path) {
            errno = ENAMETOOLONG;
            goto fail_path;
        }
        FILE *f = fopen(path, "w");
        if (!f) goto fail_path;
        size_t n = fwrite(files[i].text, 1, files[i].len, f);
        if (fclose(f) != 0 || n != files[i].len) goto fail_path;
        lua_pushstring(L, path);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
fail_dir:
    snprintf(path, sizeof path, "%s", dir);
fail_path:
    lua_pushnil(L);
    lua_pushfstring(L, "%s: %s", path, strerror(errno));
    return 2;
}

static const luaL_Reg funcs[] = { {"files", l_files}, {"write", l_write}, {NULL, NULL} };

static int luaopen_curio_stubs(lua_State *L) {
    luaL_newlib(L, funcs);
    return 1;
}

static int install(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_curio_stubs);
    lua_setfield(L, -2, "curio.stubs");
    return 0;
}

int curio_stubs_install(void *state) {
    lua_State *L = state;
    lua_pushcfunction(L, install);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) { lua_pop(L, 1); return -1; }
    return 0;
}

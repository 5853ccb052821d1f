// curio.lineedit: libedit's callback interface as a Lua module, so the REPL reads
// its lines on the kernel's thread: it waits for fd 0 to be readable like any
// task, then feeds libedit one character at a time. Other tasks keep running at
// the prompt, and Ctrl-C (the runtime's SIGINT handler stays in place:
// rl_catch_signals = 0) cancels what the REPL is doing instead of killing it.
//
// This is C called from Lua, so it may raise; it never runs under a Swift frame
// except through curio_lineedit_install's lua_pcall.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <editline/readline.h>
#include <lua.h>
#include <lauxlib.h>
#include "CLineEdit.h"

static char *line;       // the last finished line (malloc'd by libedit)
static int line_ready;   // 1: a line (or EOF, line == NULL) is waiting in `line`
static int installed;

static void on_line(char *l) {
    line = l;
    line_ready = 1;
    rl_callback_handler_remove(); // back to the terminal's normal mode while the line runs
    installed = 0;
}

// start(prompt): shows the prompt and starts collecting a line.
static int l_start(lua_State *L) {
    const char *prompt = luaL_checkstring(L, 1);
    if (line_ready) { free(line); line = NULL; line_ready = 0; }
    rl_catch_signals = 0;
    rl_callback_handler_install(prompt, on_line);
    installed = 1;
    return 0;
}

// feed(): reads what is available on stdin. Returns the line when one is finished,
// false at end of input (Ctrl-D on an empty line), nil while the line goes on.
static int l_feed(lua_State *L) {
    if (!line_ready) rl_callback_read_char();
    if (!line_ready) { lua_pushnil(L); return 1; }
    line_ready = 0;
    if (line == NULL) { lua_pushboolean(L, 0); return 1; }
    char *l = line;
    line = NULL;
    lua_pushstring(L, l); // may raise (memory): l is freed below only if it does not
    free(l);
    return 1;
}

// cancel(): drops the line being edited (Ctrl-C at the prompt).
static int l_cancel(lua_State *L) {
    (void)L;
    if (installed) {
        rl_replace_line("", 0);
        rl_callback_handler_remove();
        installed = 0;
    }
    if (line_ready) { free(line); line = NULL; line_ready = 0; }
    fputs("\n", stdout);
    fflush(stdout);
    return 0;
}

static int l_add_history(lua_State *L) {
    add_history(luaL_checkstring(L, 1));
    return 0;
}

// load_history(path), save_history(path, max_entries)
static int l_load_history(lua_State *L) {
    lua_pushboolean(L, read_history(luaL_checkstring(L, 1)) == 0);
    return 1;
}
static int l_save_history(lua_State *L) {
    const char *path = luaL_checkstring(L, 1);
    lua_Integer max = luaL_optinteger(L, 2, 1000);
    int ok = write_history(path) == 0;
    if (ok && max > 0 && max < 1000000) history_truncate_file(path, (int)max);
    lua_pushboolean(L, ok);
    return 1;
}

static const luaL_Reg funcs[] = {
    {"start", l_start}, {"feed", l_feed}, {"cancel", l_cancel},
    {"add_history", l_add_history}, {"load_history", l_load_history},
    {"save_history", l_save_history}, {NULL, NULL},
};

static int luaopen_curio_lineedit(lua_State *L) {
    luaL_newlib(L, funcs);
    return 1;
}

static int install(lua_State *L) {
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_curio_lineedit);
    lua_setfield(L, -2, "curio.lineedit");
    return 0;
}

int curio_lineedit_install(void *state) {
    lua_State *L = state;
    lua_pushcfunction(L, install);
    if (lua_pcall(L, 0, 0, 0) != LUA_OK) { lua_pop(L, 1); return -1; }
    return 0;
}

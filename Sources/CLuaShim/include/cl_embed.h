// The C half of the Swift embedding API (Sources/CurioLua/Embedding). Swift functions
// called from Lua, the values crossing between Swift and Lua, registry references,
// and the count hook that enforces instruction budgets, per-call timeouts and
// preemption. Everything that may raise happens here, in C.
#ifndef CL_EMBED_H
#define CL_EMBED_H
#include <lua.h>
#include <stdint.h>
#include <stddef.h>

/// What a Swift function's handler returns besides a result count.
enum {
    CL_EMBED_ERROR = -1,    ///< raise a curio SwiftError with errbuf as its message
    CL_EMBED_ARGERROR = -2, ///< raise luaL_argerror(*aux, errbuf)
    CL_EMBED_SUSPEND = -3,  ///< yield the EMBED_WAIT trap for job *aux, then `finish`
    CL_EMBED_RAISE = -4,    ///< raise the Lua error value Swift left on top of the stack
};

/// What the count hook does.
enum {
    CL_HOOK_CONTINUE = 0,
    CL_HOOK_YIELD = 1,     ///< yield to the kernel (only asked at task level)
    CL_HOOK_CANCEL = 2,    ///< raise the resume status *value (cancel, timeout)
    CL_HOOK_BUDGET = 3,    ///< raise BudgetExceeded with errbuf
};

typedef struct cl_embed_host {
    void *ctx;
    /// Swift function `fn` (the pointer given to cl_embed_register) called with its
    /// arguments at 1..nargs: returns the count of results it pushed, or one of the
    /// CL_EMBED_* codes.
    int (*call)(void *ctx, lua_State *L, void *fn, int nargs, int64_t *aux);
    /// A suspended call's job is done: push its results (count) or a CL_EMBED_* code.
    int (*finish)(void *ctx, lua_State *L, int64_t job, int64_t *aux);
    /// The count hook fired on L: a CL_HOOK_* code (*status, *value for CANCEL).
    int (*hook)(void *ctx, lua_State *L, int *status, double *value);
    /// A call task ended (ok or not) with its values at first..top (on error: the
    /// error and its traceback). Reads them with non-raising calls only.
    void (*done)(void *ctx, lua_State *L, int64_t call, int ok, int first);
    /// Registry references of embed.lua's error constructor raise_error(kind, msg, level).
    int raise_ref;
    /// ... and of embed.start_call(id, hook, kind, target, name, args...) -> task id.
    int start_ref;
    char errbuf[1024];
} cl_embed_host;

/// Attaches the embedding host to a state made by cl_newstate (NULL detaches).
void cl_embed_attach(lua_State *L, cl_embed_host *e);

/// Pushes `count` values encoded in `buf` (see LuaValue+Stack.swift for the format).
/// Protected: 0, or -1 with nothing pushed (out of memory, or the stack too deep).
int cl_embed_push(lua_State *L, const uint8_t *buf, size_t len, int count);

/// A registry reference to the value at `idx` (protected). LUA_NOREF on failure.
int cl_embed_ref(lua_State *L, int idx);
/// Drops a registry reference (never raises: the slot exists).
void cl_embed_unref(lua_State *L, int ref);

/// Sets package.loaded[module][names[i]] to Swift function fns[i] (kinds[i]: 0 runs
/// on the kernel thread, 1 suspends the calling task). Protected: 0, or -1 with a
/// message in the host's errbuf.
int cl_embed_register(lua_State *L, const char *module, int n, const char *const *names,
                      void *const *fns, const int *kinds);

/// Sets package.loaded[module][name] to the C function `fn` (protected): 0 or -1.
int cl_embed_register_c(lua_State *L, const char *module, const char *name, lua_CFunction fn);

/// Installs (count > 0) or removes the preemption/budget hook on L and on every
/// coroutine created from it afterwards.
void cl_embed_sethook(lua_State *L, int count);

/// The base count of L's hook (0: none).
int cl_embed_hookcount(lua_State *L);
/// Sets L's hook count (the hook must be ours).
void cl_embed_sethookcount(lua_State *L, int count);

/// Calls `require(module)[fn](values encoded in buf)` in protected mode, discarding
/// results. Returns 0, or -1 with the error message in `err`.
int cl_embed_pcall(lua_State *L, const char *module, const char *fn,
                   const uint8_t *buf, size_t len, int count, char *err, size_t errlen);

/// Starts a call from Swift: embed.start_call(values encoded in buf) in protected
/// mode. Returns the id of the call's task, or -1 with the error message in `err`.
int64_t cl_embed_start(lua_State *L, cl_embed_host *e, const uint8_t *buf, size_t len, int count,
                       char *err, size_t errlen);

/// The curio.embedcore module (opened by curio.embed).
int luaopen_curio_embedcore(lua_State *L);
#endif

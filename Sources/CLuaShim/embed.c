// The C half of the Swift embedding API: see include/cl_embed.h. Swift code never
// raises; whatever must raise (argument errors, Swift errors, budgets, timeouts)
// is raised here after the Swift frame returned.
#include "CLuaShim.h"
#include "cl_embed.h"
#include <string.h>
#include <stdio.h>

static const char HOST_KEY[] = "curio.embedhost";
enum { HOOK_SLICE_MAX = 1 << 30 };

static cl_embed_host *embed_from_registry(lua_State *L) {
    lua_getfield(L, LUA_REGISTRYINDEX, HOST_KEY);
    cl_embed_host *e = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return e;
}

static curio_host *curio_of(lua_State *L) { return *(curio_host **)lua_getextraspace(L); }

/* Raises what a non-zero resume status stands for, through curio's raiser. */
static int raise_status(lua_State *L, int status, double value) {
    curio_host *h = curio_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h ? h->raiser_ref : 0);
    lua_pushinteger(L, status);
    lua_pushnumber(L, value);
    lua_call(L, 2, 0);
    return luaL_error(L, "curio: resume status %d", status);
}

/* Raises a curio error of `kind` with `msg` through embed.lua's constructor. */
static int raise_kind(lua_State *L, cl_embed_host *e, const char *kind, const char *msg) {
    if (!e || !e->raise_ref) return luaL_error(L, "%s: %s", kind, msg);
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->raise_ref);
    lua_pushstring(L, kind);
    lua_pushstring(L, msg);
    lua_call(L, 2, 0);
    return luaL_error(L, "%s: %s", kind, msg);
}

/* ---- values: Swift encodes, C pushes */

typedef struct { const uint8_t *p, *end; } reader;

static int rd(reader *r, void *out, size_t n) {
    if ((size_t)(r->end - r->p) < n) return 0;
    memcpy(out, r->p, n);
    r->p += n;
    return 1;
}

static void push_one(lua_State *L, reader *r, int depth) {
    uint8_t tag;
    if (depth > 200) luaL_error(L, "value nested too deeply");
    luaL_checkstack(L, 4, "value nested too deeply");
    if (!rd(r, &tag, 1)) luaL_error(L, "truncated value");
    int64_t i; double d; uint64_t n, m;
    switch (tag) {
    case 0: lua_pushnil(L); break;
    case 1: lua_pushboolean(L, 0); break;
    case 2: lua_pushboolean(L, 1); break;
    case 3: if (!rd(r, &i, 8)) luaL_error(L, "truncated value"); lua_pushinteger(L, i); break;
    case 4: if (!rd(r, &d, 8)) luaL_error(L, "truncated value"); lua_pushnumber(L, d); break;
    case 5:
        if (!rd(r, &n, 8) || (uint64_t)(r->end - r->p) < n) luaL_error(L, "truncated value");
        lua_pushlstring(L, (const char *)r->p, (size_t)n);
        r->p += n;
        break;
    case 6:
        if (!rd(r, &n, 8) || !rd(r, &m, 8)) luaL_error(L, "truncated value");
        lua_createtable(L, n < 1u << 26 ? (int)n : 0, m < 1u << 26 ? (int)m : 0);
        for (uint64_t k = 1; k <= n; k++) {
            push_one(L, r, depth + 1);
            lua_rawseti(L, -2, (lua_Integer)k);
        }
        for (uint64_t k = 0; k < m; k++) {
            push_one(L, r, depth + 1);
            push_one(L, r, depth + 1);
            if (lua_isnil(L, -2) || (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) != lua_tonumber(L, -2)))
                lua_pop(L, 2); /* nil or NaN key: not storable, dropped */
            else
                lua_rawset(L, -3);
        }
        break;
    case 7:
        if (!rd(r, &i, 8)) luaL_error(L, "truncated value");
        lua_rawgeti(L, LUA_REGISTRYINDEX, (lua_Integer)i);
        break;
    default: luaL_error(L, "bad value tag %d", tag);
    }
}

static int push_p(lua_State *L) {
    reader r = { lua_touserdata(L, 1), NULL };
    r.end = r.p + (size_t)lua_tointeger(L, 2);
    int count = (int)lua_tointeger(L, 3);
    lua_settop(L, 0);
    luaL_checkstack(L, count + 4, "too many values");
    for (int k = 0; k < count; k++) push_one(L, &r, 0);
    return count;
}

int cl_embed_push(lua_State *L, const uint8_t *buf, size_t len, int count) {
    if (count < 0 || !lua_checkstack(L, 4)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, push_p);
    lua_pushlightuserdata(L, (void *)buf);
    lua_pushinteger(L, (lua_Integer)len);
    lua_pushinteger(L, count);
    if (lua_pcall(L, 3, LUA_MULTRET, 0) != LUA_OK) { lua_settop(L, top); return -1; }
    return 0;
}

/* ---- references */

static int ref_p(lua_State *L) {
    lua_settop(L, 1);
    lua_pushinteger(L, luaL_ref(L, LUA_REGISTRYINDEX));
    return 1;
}

int cl_embed_ref(lua_State *L, int idx) {
    if (!lua_checkstack(L, 3)) return LUA_NOREF;
    idx = lua_absindex(L, idx);
    lua_pushcfunction(L, ref_p);
    lua_pushvalue(L, idx);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) { lua_pop(L, 1); return LUA_NOREF; }
    int ref = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return ref;
}

void cl_embed_unref(lua_State *L, int ref) {
    if (ref > 0) luaL_unref(L, LUA_REGISTRYINDEX, ref);
}

/* ---- Swift functions */

static int finish_call(lua_State *L, cl_embed_host *e, int n, int64_t aux);

static int swift_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status;
    cl_embed_host *e = lua_touserdata(L, lua_upvalueindex(1));
    /* resumed with (status, value) on top */
    int st = (int)lua_tointeger(L, -2);
    if (st != 0) return raise_status(L, st, lua_tonumber(L, -1));
    lua_settop(L, 0);
    int64_t aux = 0;
    int n = e->finish(e->ctx, L, (int64_t)ctx, &aux);
    return finish_call(L, e, n, aux);
}

static int finish_call(lua_State *L, cl_embed_host *e, int n, int64_t aux) {
    if (n >= 0) return n;
    switch (n) {
    case CL_EMBED_ARGERROR: return luaL_argerror(L, (int)aux, e->errbuf);
    case CL_EMBED_RAISE: return lua_error(L);
    case CL_EMBED_SUSPEND:
        lua_settop(L, 0);
        lua_pushlightuserdata(L, cl_trap_sentinel());
        lua_pushinteger(L, CurioTrap_embedWait);
        lua_pushinteger(L, (lua_Integer)aux);
        lua_pushinteger(L, 0);
        return lua_yieldk(L, 4, (lua_KContext)aux, swift_k);
    default: {
        luaL_where(L, 1);
        const char *where = lua_tostring(L, -1);
        char msg[sizeof e->errbuf + 256];
        snprintf(msg, sizeof msg, "%s%s", where, e->errbuf);
        return raise_kind(L, e, "SwiftError", msg);
    }
    }
}

/* A synchronous Swift function: upvalues host, function. */
static int l_swift_fn(lua_State *L) {
    cl_embed_host *e = lua_touserdata(L, lua_upvalueindex(1));
    int64_t aux = 0;
    int n = e->call(e->ctx, L, lua_touserdata(L, lua_upvalueindex(2)), lua_gettop(L), &aux);
    if (n >= 0) return n;
    return finish_call(L, e, n, aux);
}

/* A Swift function that suspends the calling task (async or blocking). */
static int l_swift_suspending_fn(lua_State *L) {
    if (!lua_isyieldable(L)) return raise_status(L, CurioStatus_notYieldable, 0);
    return l_swift_fn(L);
}

static int register_p(lua_State *L) {
    cl_embed_host *e = lua_touserdata(L, 1);
    const char *module = lua_touserdata(L, 2);
    int n = (int)lua_tointeger(L, 3);
    const char *const *names = lua_touserdata(L, 4);
    void *const *fns = lua_touserdata(L, 5);
    const int *kinds = lua_touserdata(L, 6);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    if (lua_getfield(L, -1, module) != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_newtable(L);
        lua_pushvalue(L, -1);
        lua_setfield(L, -3, module);
    }
    for (int i = 0; i < n; i++) {
        lua_pushlightuserdata(L, e);
        lua_pushlightuserdata(L, fns[i]);
        lua_pushcclosure(L, kinds[i] ? l_swift_suspending_fn : l_swift_fn, 2);
        lua_setfield(L, -2, names[i]);
    }
    return 0;
}

int cl_embed_register(lua_State *L, const char *module, int n, const char *const *names,
                      void *const *fns, const int *kinds) {
    cl_embed_host *e = embed_from_registry(L);
    if (!e || !lua_checkstack(L, 8)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, register_p);
    lua_pushlightuserdata(L, e);
    lua_pushlightuserdata(L, (void *)module);
    lua_pushinteger(L, n);
    lua_pushlightuserdata(L, (void *)names);
    lua_pushlightuserdata(L, (void *)fns);
    lua_pushlightuserdata(L, (void *)kinds);
    int rc = 0;
    if (lua_pcall(L, 6, 0, 0) != LUA_OK) {
        snprintf(e->errbuf, sizeof e->errbuf, "%s", lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "error");
        rc = -1;
    }
    lua_settop(L, top);
    return rc;
}

/* ---- the count hook: budgets, timeouts and cancellation of running code, and
   preemption (a task that never blocks still lets the others run) */

static void count_hook(lua_State *L, lua_Debug *ar) {
    (void)ar;
    cl_embed_host *e = embed_from_registry(L);
    if (!e) return;
    int status = 0;
    double value = 0;
    switch (e->hook(e->ctx, L, &status, &value)) {
    case CL_HOOK_YIELD: if (lua_isyieldable(L)) lua_yield(L, 0); break;
    case CL_HOOK_CANCEL: raise_status(L, status, value); break;
    case CL_HOOK_BUDGET: raise_kind(L, e, "BudgetExceeded", e->errbuf); break;
    default: break;
    }
}

void cl_embed_sethook(lua_State *L, int count) {
    if (count > 0) lua_sethook(L, count_hook, LUA_MASKCOUNT, count < HOOK_SLICE_MAX ? count : HOOK_SLICE_MAX);
    else lua_sethook(L, NULL, 0, 0);
}

int cl_embed_hookcount(lua_State *L) { return lua_gethook(L) == count_hook ? lua_gethookcount(L) : 0; }

void cl_embed_sethookcount(lua_State *L, int count) {
    if (lua_gethook(L) == count_hook && count > 0) lua_sethook(L, count_hook, LUA_MASKCOUNT, count);
}

/* ---- call tasks: embedcore.run_call(call, budget, fn, ...) is the body of a task
   started by a Swift call. It runs fn(...) protected and reports the outcome to
   Swift from C, so no Lua instruction runs between the end of fn and the report
   (a spent budget raises at every instruction). */

static int run_call_k(lua_State *L, int status, lua_KContext ctx) {
    (void)ctx;
    cl_embed_host *e = lua_touserdata(L, lua_upvalueindex(1));
    lua_sethook(L, NULL, 0, 0);
    int ok = status == LUA_OK || status == LUA_YIELD;
    e->done(e->ctx, L, lua_tointeger(L, 1), ok, 4);
    return 0;
}

/* The message handler of a call task: stops the budget hook, then packs
   {error, traceback, tostring(error), error kind}. */
static int call_msgh_packed(lua_State *L) {
    lua_sethook(L, NULL, 0, 0);
    luaL_checkstack(L, 6, NULL);
    lua_settop(L, 1);
    lua_createtable(L, 4, 0);                    /* 2 */
    lua_pushvalue(L, 1);
    lua_rawseti(L, 2, 1);
    const char *msg = luaL_tolstring(L, 1, NULL); /* 3 */
    luaL_traceback(L, L, msg, 1);                /* 4 */
    lua_rawseti(L, 2, 2);
    lua_rawseti(L, 2, 3);
    if (luaL_getmetafield(L, 1, "kind") == LUA_TSTRING) lua_rawseti(L, 2, 4);
    else lua_settop(L, 2);
    lua_settop(L, 2);
    return 1;
}

static int l_run_call(lua_State *L) {
    /* 1 call id, 2 hook count (0: as inherited), 3 fn, 4... args */
    lua_Integer count = lua_tointeger(L, 2);
    if (count > 0) cl_embed_sethook(L, count < HOOK_SLICE_MAX ? (int)count : HOOK_SLICE_MAX);
    int nargs = lua_gettop(L) - 3;
    lua_pushcfunction(L, call_msgh_packed);
    lua_replace(L, 2);   /* 2: message handler */
    lua_pushnil(L);
    lua_insert(L, 3);    /* 3: (unused) so results start at 4 */
    return run_call_k(L, lua_pcallk(L, nargs, LUA_MULTRET, 2, 0, run_call_k), 0);
}

static void set_ref(lua_State *L, int *ref) {
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    if (*ref) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

/* embedcore.set_raise(fn): fn(kind, message) raises a curio error */
static int l_set_raise(lua_State *L) {
    set_ref(L, &((cl_embed_host *)lua_touserdata(L, lua_upvalueindex(1)))->raise_ref);
    return 0;
}

/* embedcore.set_start(fn): fn(call, hook, kind, target, name, args...) starts a
   call's task and returns its id (cl_embed_start) */
static int l_set_start(lua_State *L) {
    set_ref(L, &((cl_embed_host *)lua_touserdata(L, lua_upvalueindex(1)))->start_ref);
    return 0;
}

int luaopen_curio_embedcore(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"run_call", l_run_call},
        {"set_raise", l_set_raise},
        {"set_start", l_set_start},
        {NULL, NULL},
    };
    cl_embed_host *e = embed_from_registry(L);
    if (!e) return luaL_error(L, "curio.embedcore: no embedding host");
    luaL_newlibtable(L, fns);
    lua_pushlightuserdata(L, e);
    luaL_setfuncs(L, fns, 1);
    return 1;
}

static int attach_p(lua_State *L) {
    lua_pushvalue(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, HOST_KEY);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
    lua_pushcfunction(L, luaopen_curio_embedcore);
    lua_setfield(L, -2, "curio.embedcore");
    return 0;
}

void cl_embed_attach(lua_State *L, cl_embed_host *e) {
    if (!lua_checkstack(L, 4)) return;
    lua_pushcfunction(L, attach_p);
    if (e) lua_pushlightuserdata(L, e); else lua_pushnil(L);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lua_pop(L, 1);
}

/* ---- protected calls into embed.lua from Swift (outside any task) */

static int tostring_msgh(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

static int pcall_p(lua_State *L) {
    const char *module = lua_touserdata(L, 1);
    const char *fn = lua_touserdata(L, 2);
    reader r = { lua_touserdata(L, 3), NULL };
    r.end = r.p + (size_t)lua_tointeger(L, 4);
    int count = (int)lua_tointeger(L, 5);
    lua_settop(L, 0);
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    luaL_checkstack(L, count + 4, "too many values");
    for (int k = 0; k < count; k++) push_one(L, &r, 0);
    lua_call(L, count, 0);
    return 0;
}

int cl_embed_pcall(lua_State *L, const char *module, const char *fn,
                   const uint8_t *buf, size_t len, int count, char *err, size_t errlen) {
    if (!lua_checkstack(L, 8)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, pcall_p);
    lua_pushlightuserdata(L, (void *)module);
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushlightuserdata(L, (void *)buf);
    lua_pushinteger(L, (lua_Integer)len);
    lua_pushinteger(L, count);
    int rc = 0;
    lua_pushcfunction(L, tostring_msgh);
    lua_insert(L, top + 1);
    if (lua_pcall(L, 5, 0, top + 1) != LUA_OK) {
        if (err && errlen) {
            const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
            snprintf(err, errlen, "%s", m ? m : "(error object)");
        }
        rc = -1;
    }
    lua_settop(L, top);
    return rc;
}

/* ---- calls from Swift: the hot path of cl_embed_pcall("start_call") without
   the module lookup, returning the task's id */

static int start_p(lua_State *L) {
    cl_embed_host *e = lua_touserdata(L, 1);
    reader r = { lua_touserdata(L, 2), NULL };
    r.end = r.p + (size_t)lua_tointeger(L, 3);
    int count = (int)lua_tointeger(L, 4);
    lua_settop(L, 0);
    luaL_checkstack(L, count + 4, "too many values");
    lua_rawgeti(L, LUA_REGISTRYINDEX, e->start_ref);
    for (int k = 0; k < count; k++) push_one(L, &r, 0);
    lua_call(L, count, 1);
    return 1;
}

int64_t cl_embed_start(lua_State *L, cl_embed_host *e, const uint8_t *buf, size_t len, int count,
                       char *err, size_t errlen) {
    if (!e->start_ref || !lua_checkstack(L, 8)) {
        snprintf(err, errlen, "%s", e->start_ref ? "stack overflow" : "not configured");
        return -1;
    }
    int top = lua_gettop(L);
    lua_pushcfunction(L, tostring_msgh);
    lua_pushcfunction(L, start_p);
    lua_pushlightuserdata(L, e);
    lua_pushlightuserdata(L, (void *)buf);
    lua_pushinteger(L, (lua_Integer)len);
    lua_pushinteger(L, count);
    int64_t id = -1;
    if (lua_pcall(L, 4, 1, top + 1) != LUA_OK) {
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
        snprintf(err, errlen, "%s", m ? m : "(error object)");
    } else {
        id = (int64_t)lua_tointeger(L, -1);
    }
    lua_settop(L, top);
    return id;
}

/* ---- plain C functions registered by the host */

static int register_c_p(lua_State *L) {
    const char *module = lua_touserdata(L, 1);
    const char *name = lua_touserdata(L, 2);
    lua_CFunction fn = (lua_CFunction)lua_touserdata(L, 3);
    luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
    luaL_getsubtable(L, -1, module);
    lua_pushcfunction(L, fn);
    lua_setfield(L, -2, name);
    return 0;
}

int cl_embed_register_c(lua_State *L, const char *module, const char *name, lua_CFunction fn) {
    if (!lua_checkstack(L, 6)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, register_c_p);
    lua_pushlightuserdata(L, (void *)module);
    lua_pushlightuserdata(L, (void *)name);
    lua_pushlightuserdata(L, (void *)fn);
    int rc = lua_pcall(L, 3, 0, 0) == LUA_OK ? 0 : -1;
    lua_settop(L, top);
    return rc;
}

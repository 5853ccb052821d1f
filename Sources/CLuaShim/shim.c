#include <stdio.h>
#include "CLuaShim.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static char trap_sentinel;
void *cl_trap_sentinel(void) { return &trap_sentinel; }

static curio_host *host_of(lua_State *L) { return *(curio_host **)lua_getextraspace(L); }

int luaopen_curio_core(lua_State *L);
int cl_open_socket(lua_State *L);
int cl_open_ssl(lua_State *L);
int cl_open_process(lua_State *L);
int cl_open_codec(lua_State *L);
int cl_open_workers(lua_State *L);
int cl_open_universal(lua_State *L);
int cl_open_workerproc(lua_State *L);
int cl_open_channel(lua_State *L);

/* ---- embedded modules: a searcher that finds lua/ files compiled into the binary */

/* Their bytecode, compiled once per process and shared by every state: worker
   threads open states of their own, and compiling the sources again cost each
   new worker state ~1.7 ms of CPU (98% of its start), loading bytecode a
   fraction of that. Dumped with debug information, so tracebacks and chunk
   names are the same. A module is dumped when a second state loads it (a process
   with one state pays nothing); an entry with no bytecode marks the first load.
   Entries are added under the lock and their bytecode set once. */
typedef struct bc_ent { const char *src; char *bc; size_t len; struct bc_ent *next; } bc_ent;
static pthread_mutex_t bc_mu = PTHREAD_MUTEX_INITIALIZER;
static bc_ent *bc_list;

typedef struct { char *p; size_t len, cap; int failed; } bc_buf;

static int bc_write(lua_State *L, const void *p, size_t n, void *ud) {
    (void)L;
    bc_buf *b = ud;
    if (b->failed) return 1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) { b->failed = 1; return 1; }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
}

/* The entry of src, added (with no bytecode) on its first load (*first = 1);
   NULL if memory ran out. The bytecode copied out is complete (set under the lock). */
static bc_ent *bc_find(const char *src, const char **bc, size_t *len, int *first) {
    pthread_mutex_lock(&bc_mu);
    bc_ent *e = bc_list;
    while (e && e->src != src) e = e->next;
    *first = !e;
    if (!e && (e = calloc(1, sizeof *e))) {
        e->src = src;
        e->next = bc_list;
        bc_list = e;
    }
    *bc = e ? e->bc : NULL;
    *len = e ? e->len : 0;
    pthread_mutex_unlock(&bc_mu);
    return e;
}

/* Keeps the bytecode of the function on top of the stack (compiled from e's source). */
static void bc_keep(lua_State *L, bc_ent *e) {
    bc_buf b = { 0 };
    if (lua_dump(L, bc_write, &b, 0) != 0 || b.failed) { free(b.p); return; }
    pthread_mutex_lock(&bc_mu);
    if (!e->bc) { e->bc = b.p; e->len = b.len; b.p = NULL; } /* else another thread was first */
    pthread_mutex_unlock(&bc_mu);
    free(b.p);
}

static int embedded_searcher(lua_State *L) {
    const char *name = luaL_checkstring(L, 1);
    size_t len;
    const char *src = cl_embedded_source(name, &len);
    if (!src) {
        lua_pushfstring(L, "no embedded module '%s'", name);
        return 1;
    }
    const char *bc;
    size_t bclen;
    int first;
    bc_ent *e = bc_find(src, &bc, &bclen, &first);
    if (bc) {
        if (luaL_loadbufferx(L, bc, bclen, "=[curio]", "b") != LUA_OK) return lua_error(L);
        lua_pushstring(L, ":embedded:");
        return 2;
    }
    lua_pushfstring(L, "@[curio]/%s.lua", name);
    const char *chunk = lua_tostring(L, -1);
    /* names use dots; show them as paths */
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (const char *p = chunk; *p; p++) luaL_addchar(&b, (*p == '.' && strncmp(p, ".lua", 4) != 0) ? '/' : *p);
    luaL_pushresult(&b);
    if (luaL_loadbuffer(L, src, len, lua_tostring(L, -1)) != LUA_OK) return lua_error(L);
    if (e && !first) bc_keep(L, e); /* the first load only added the entry */
    lua_pushstring(L, ":embedded:");
    return 2;
}

static int open_state(lua_State *L) {
    int noenv = (int)lua_tointeger(L, 1);
    if (noenv) {
        lua_pushboolean(L, 1);
        lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
    }
    luaL_openlibs(L);
    /* package.searchers: insert ours right after the preload searcher */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    int n = (int)lua_rawlen(L, -1);
    for (int i = n; i >= 2; i--) {
        lua_rawgeti(L, -1, i);
        lua_rawseti(L, -2, i + 1);
    }
    lua_pushcfunction(L, embedded_searcher);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 1);
    /* The C modules, preloaded under their names. */
    static const luaL_Reg c_modules[] = {
        {"curio.core", luaopen_curio_core}, {"curio.csocket", cl_open_socket},
        {"curio.cssl", cl_open_ssl}, {"curio.cprocess", cl_open_process},
        {"curio.ccodec", cl_open_codec}, {"curio.cworkers", cl_open_workers},
        {"curio.cuniversal", cl_open_universal}, {"curio.cworkerproc", cl_open_workerproc},
        {"curio.cchannel", cl_open_channel}, {NULL, NULL},
    };
    lua_getfield(L, -1, "preload");
    for (const luaL_Reg *m = c_modules; m->name; m++) {
        lua_pushcfunction(L, m->func);
        lua_setfield(L, -2, m->name);
    }
    lua_pop(L, 2);
    return 0;
}

cl_allocator *cl_allocator_new(void);
void cl_allocator_free(cl_allocator *a);
lua_State *cl_newstate_with(cl_allocator *a);

lua_State *cl_newstate(curio_host *host, int noenv) {
    cl_allocator *a = cl_allocator_new();
    if (!a) return NULL;
    lua_State *L = cl_newstate_with(a);
    if (!L) { cl_allocator_free(a); return NULL; }
    *(curio_host **)lua_getextraspace(L) = host;
    lua_pushcfunction(L, open_state);
    lua_pushinteger(L, noenv);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        if (host) snprintf(host->errbuf, sizeof host->errbuf, "%s", lua_tostring(L, -1));
        cl_close(L);
        return NULL;
    }
    return L;
}

cl_allocator *cl_state_allocator(lua_State *L) {
    void *ud;
    lua_getallocf(L, &ud);
    return ud;
}

void cl_close(lua_State *L) {
    cl_allocator *a = cl_state_allocator(L);
    lua_close(L);
    cl_allocator_free(a);
}


static int pushlstring_p(lua_State *L) {
    const char *s = (const char *)lua_touserdata(L, 1);
    size_t len = (size_t)lua_tointeger(L, 2);
    lua_pushlstring(L, s, len);
    return 1;
}

int cl_pushlstring(lua_State *L, const char *s, size_t len) {
    if (!lua_checkstack(L, 4)) return -1;
    lua_pushcfunction(L, pushlstring_p);
    lua_pushlightuserdata(L, (void *)s);
    lua_pushinteger(L, (lua_Integer)len);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) { lua_pop(L, 1); return -1; }
    return 0;
}

static int call_module_p(lua_State *L) {
    const char *module = lua_touserdata(L, 1);
    const char *fn = lua_touserdata(L, 2);
    int argc = (int)lua_tointeger(L, 3);
    const char *const *argv = lua_touserdata(L, 4);
    lua_getglobal(L, "require");
    lua_pushstring(L, module);
    lua_call(L, 1, 1);
    lua_getfield(L, -1, fn);
    luaL_checkstack(L, argc + 2, "too many arguments");
    for (int i = 0; i < argc; i++) lua_pushstring(L, argv[i]);
    lua_call(L, argc, 1);
    return 1;
}

static int tostring_result_p(lua_State *L) {
    luaL_tolstring(L, 1, NULL);
    return 1;
}

int cl_call_module_text(lua_State *L, const char *module, const char *fn,
                        int argc, const char *const *argv, char *out, size_t outlen, int *status) {
    if (!lua_checkstack(L, 8)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, call_module_p);
    lua_pushlightuserdata(L, (void *)module);
    lua_pushlightuserdata(L, (void *)fn);
    lua_pushinteger(L, argc);
    lua_pushlightuserdata(L, (void *)argv);
    int rc = lua_pcall(L, 4, 1, 0) == LUA_OK ? 0 : -1;
    if (status) *status = (rc == 0 && lua_isinteger(L, -1)) ? (int)lua_tointeger(L, -1) : 0;
    if (out && outlen) {
        out[0] = 0;
        lua_pushcfunction(L, tostring_result_p);
        lua_pushvalue(L, -2);
        if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
            size_t len;
            const char *s = lua_tolstring(L, -1, &len);
            size_t n = len < outlen - 1 ? len : outlen - 1;
            memcpy(out, s, n);
            out[n] = 0;
        }
    }
    lua_settop(L, top);
    return rc;
}

/* ---- curio.core: the few primitives the Lua library is built on */

static int l_kcall(lua_State *L) {
    curio_host *h = host_of(L);
    if (!h) return luaL_error(L, "curio: no kernel host for this state");
    lua_Integer op = luaL_checkinteger(L, 1);
    if (!curio_kcall_known(op)) return luaL_error(L, "curio: unknown kernel call %I", op);
    int nargs = lua_gettop(L);
    /* Results fit in the LUA_MINSTACK (20) free slots every C call gets; growing
       the stack here would cost each task's coroutine hundreds of bytes. */
    int n = h->kcall(h->ctx, L, (int)op, nargs);
    if (n < 0) return luaL_error(L, "%s", h->errbuf);
    return n;
}

/* core.trap(op, a, b): a blocking call. Yields (TRAP, op, a, b) out of the task's
   coroutine to the kernel; the kernel resumes it with (status, value): status 0
   returns value, any other is raised by the Lua raiser (TaskCancelled,
   TaskTimeout, NotInTask...). In C so that a blocking call costs no Lua frame and
   no isyieldable() call. */

static int raise_status(lua_State *L, int status) {
    curio_host *h = host_of(L);
    /* stack: ... status value */
    lua_rawgeti(L, LUA_REGISTRYINDEX, h ? h->raiser_ref : 0);
    lua_insert(L, -3);
    lua_call(L, 2, 0); /* raises */
    (void)status;
    return luaL_error(L, "curio: trap status %d", status);
}

static int trap_k(lua_State *L, int status, lua_KContext ctx) {
    (void)status; (void)ctx;
    /* the yielded values are gone; the resume values (status, value) are on top */
    int st = (int)lua_tointeger(L, -2);
    if (st == 0) return 1;
    return raise_status(L, st);
}

/* Yields (TRAP, op, a, b) with a and b the values at stack indices ia and ib; the
   values stay on the stack below (pushing copies beats rotating them into place). */
static int yield_trap(lua_State *L, lua_Integer op, int ia, int ib) {
    curio_host *h = host_of(L);
    if (h && h->gc_cycle_done) cl_gcpace_retune(L, h);
    if (!lua_isyieldable(L)) {
        lua_pushinteger(L, CurioStatus_notYieldable);
        lua_pushnil(L);
        return raise_status(L, CurioStatus_notYieldable);
    }
    lua_pushlightuserdata(L, cl_trap_sentinel());
    lua_pushinteger(L, op);
    lua_pushvalue(L, ia);
    lua_pushvalue(L, ib);
    return lua_yieldk(L, 4, 0, trap_k);
}

static int l_trap(lua_State *L) {
    lua_settop(L, 3);
    return yield_trap(L, lua_tointeger(L, 1), 2, 3);
}

/* core.sleep(seconds), core.wake_at(clock), core.schedule(): the sleep trap with its
   argument check in C. A sleeping task then holds no Lua frame of ours: one call
   frame (~80 bytes) less per sleeper, and two Lua calls less per sleep(0). */

static int sleep_trap(lua_State *L, const char *fname, int absolute) {
    if (lua_type(L, 1) != LUA_TNUMBER)
        return luaL_error(L, "bad argument #1 to '%s' (number expected, got %s)", fname,
                          luaL_typename(L, 1));
    /* NaN has no meaning; a negative sleep is sleep(0) and +inf sleeps until
       cancelled (the kernel takes both as they are). */
    lua_Number t = lua_tonumber(L, 1);
    if (t != t) return luaL_error(L, "bad argument #1 to '%s' (number is NaN)", fname);
    lua_settop(L, 1);
    lua_pushinteger(L, absolute);
    return yield_trap(L, CurioTrap_sleep, 1, 2);
}

static int l_sleep(lua_State *L) { return sleep_trap(L, "sleep", 0); }
static int l_wake_at(lua_State *L) { return sleep_trap(L, "wake_at", 1); }

static int l_schedule(lua_State *L) {
    lua_settop(L, 0);
    lua_pushinteger(L, 0);
    return yield_trap(L, CurioTrap_sleep, 1, 1);
}

/* Pops the top value into the registry as *ref, dropping what *ref held (0: none;
   a nil value leaves it at 0). The core.set_* functions keep their values so. */
static void replace_ref(lua_State *L, int *ref) {
    if (*ref) luaL_unref(L, LUA_REGISTRYINDEX, *ref);
    *ref = luaL_ref(L, LUA_REGISTRYINDEX); /* LUA_REFNIL (-1) for nil */
    if (*ref == LUA_REFNIL) *ref = 0;
}

/* core.set_raiser(fn) */
static int l_set_raiser(lua_State *L) {
    curio_host *h = host_of(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    if (!h) return luaL_error(L, "curio: no kernel host");
    lua_settop(L, 1);
    replace_ref(L, &h->raiser_ref);
    return 0;
}

/* A Task table keeps its own state in its array part (curio.task names the slots):
   stores there cost no hash insertion. */
enum { SLOT_CO = 1, SLOT_FN, SLOT_ID, SLOT_PARENT, SLOT_DAEMON, SLOT_DONE, SLOT_RESULTS,
       SLOT_GROUP, NSLOTS = SLOT_GROUP };

/* core.task_body(task, msgh, fn, ...): the body of every task's coroutine. Runs
   fn(...) under the message handler msgh like xpcall (so __close handlers run, and
   may block, while an error unwinds), then records the outcome inside the
   coroutine: ending a task needs no protected call from the kernel. A task that
   returned and belongs to no group is recorded here (its results and done slots);
   anything else goes to the Lua finisher(task, ok, ...). */
static int body_done(lua_State *L, int status, lua_KContext ctx) {
    (void)ctx;
    curio_host *h = host_of(L);
    int ok = status == LUA_OK || status == LUA_YIELD;
    int nres = lua_gettop(L) - 2; /* above task and msgh: results, or the error */
    luaL_checkstack(L, 3, "too many results");
    if (ok && lua_rawgeti(L, 1, SLOT_GROUP) == LUA_TBOOLEAN) { /* in no group */
        if (nres == 0) {
            lua_rawgeti(L, LUA_REGISTRYINDEX, h->no_results_ref);
        } else {
            lua_createtable(L, nres, 1); /* as table.pack(...) */
            for (int i = 1; i <= nres; i++) {
                lua_pushvalue(L, 2 + i);
                lua_rawseti(L, -2, i);
            }
            lua_pushinteger(L, nres);
            lua_setfield(L, -2, "n");
        }
        lua_rawseti(L, 1, SLOT_RESULTS);
        lua_pushboolean(L, 1);
        lua_rawseti(L, 1, SLOT_DONE);
        return 0;
    }
    lua_settop(L, nres + 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h ? h->finisher_ref : 0);
    lua_pushvalue(L, 1);
    lua_pushboolean(L, ok);
    lua_rotate(L, 3, 3); /* finisher, task, ok, values... */
    lua_call(L, nres + 2, 0);
    return 0;
}

static int l_task_body(lua_State *L) {
    int nargs = lua_gettop(L) - 3;
    luaL_checktype(L, 2, LUA_TFUNCTION);
    return body_done(L, lua_pcallk(L, nargs, LUA_MULTRET, 2, 0, body_done), 0);
}

/* core.set_task_class(mt, msgh, finisher, no_results): the Task metatable, the
   message handler every task body runs under, the Lua finisher(task, ok, ...) that
   records how a task ended when task_body does not (an error, or a task group to
   tell), and the shared `{n = 0}` of tasks that return nothing. */
static int l_set_task_class(lua_State *L) {
    curio_host *h = host_of(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    luaL_checktype(L, 2, LUA_TFUNCTION);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    luaL_checktype(L, 4, LUA_TTABLE);
    if (!h) return luaL_error(L, "curio: no kernel host");
    lua_settop(L, 4);
    replace_ref(L, &h->no_results_ref);
    replace_ref(L, &h->finisher_ref);
    replace_ref(L, &h->msgh_ref);
    replace_ref(L, &h->task_mt_ref);
    return 0;
}

/* core.set_spawn_hook(fn): fn(task) is called after spawning a task from another
   task (curio.Local copies the parent's values); nil removes it. */
static int l_set_spawn_hook(lua_State *L) {
    curio_host *h = host_of(L);
    if (!h) return luaL_error(L, "curio: no kernel host");
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_settop(L, 1);
    replace_ref(L, &h->spawn_hook_ref);
    return 0;
}

/* core.spawn(fn, ...), core.spawn_daemon(fn, ...), core.spawn_main(fn, ...) -> Task.
   Makes the Task table with every slot a task gets (done is false, true, or
   "joined" once join() or a task group collected the outcome), anchors it in the
   registry until the task ends, and registers the task with the kernel. Its
   coroutine is made when it first runs (cl_start_task): until then the coroutine
   slot holds the number of arguments, which follow the task's own slots, so a
   burst of spawns costs no stacks. Never suspends. */

static int spawn_task(lua_State *L, const char *fname, int daemon, int main) {
    curio_host *h = host_of(L);
    if (!h || !h->task_mt_ref) return luaL_error(L, "curio: no kernel host");
    if (lua_type(L, 1) != LUA_TFUNCTION) {
        if (luaL_getmetafield(L, 1, "__call") == LUA_TNIL)
            return luaL_error(L, "bad argument #1 to '%s' (function expected, got %s)", fname,
                              luaL_typename(L, 1));
        lua_pop(L, 1);
    }
    int nargs = lua_gettop(L) - 1; /* fn's arguments */
    luaL_checkstack(L, 6, NULL);
    lua_createtable(L, NSLOTS + nargs, 0);
    int t = lua_gettop(L);
    for (int i = 1; i <= nargs; i++) {
        lua_pushvalue(L, 1 + i);
        lua_rawseti(L, t, NSLOTS + i);
    }
    lua_pushinteger(L, nargs);
    lua_rawseti(L, t, SLOT_CO);
    lua_pushvalue(L, 1);
    lua_rawseti(L, t, SLOT_FN);
    lua_pushboolean(L, daemon); /* (id and parent id: once the kernel knows them) */
    lua_rawseti(L, t, SLOT_DAEMON);
    for (int k = SLOT_DONE; k <= SLOT_GROUP; k++) { /* done, results, group: false */
        lua_pushboolean(L, 0);
        lua_rawseti(L, t, k);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->task_mt_ref);
    lua_setmetatable(L, t);
    lua_pushvalue(L, t);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    int64_t parent = 0;
    int64_t id = h->spawn(h->ctx, ref, daemon, main, &parent);
    if (id < 0) {
        luaL_unref(L, LUA_REGISTRYINDEX, ref);
        if (id == -2) {
            lua_pushinteger(L, CurioStatus_notInTask);
            lua_pushnil(L);
            return raise_status(L, CurioStatus_notInTask);
        }
        return luaL_error(L, "%s", h->errbuf);
    }
    /* From here on the task exists: nothing below allocates (the array part has
       every slot, set or not) until the hook, whose errors are the caller's. */
    lua_pushinteger(L, (lua_Integer)id);
    lua_rawseti(L, t, SLOT_ID);
    lua_pushinteger(L, (lua_Integer)parent);
    lua_rawseti(L, t, SLOT_PARENT);
    if (h->spawn_hook_ref && parent != 0) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, h->spawn_hook_ref);
        lua_pushvalue(L, t);
        lua_call(L, 1, 0);
    }
    lua_settop(L, t);
    return 1;
}

/* The coroutine of the task anchored at registry `ref`, made as it first runs:
   task_body(task, msgh, fn, args...). The arguments leave the task's table, whose
   coroutine slot then holds the coroutine. */
static int start_task_p(lua_State *L) {
    curio_host *h = host_of(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, (int)lua_tointeger(L, 1)); /* 2: task */
    lua_rawgeti(L, 2, SLOT_CO);
    int nargs = (int)lua_tointeger(L, 3);
    luaL_checkstack(L, nargs + 5, "too many arguments");
    lua_State *co = lua_newthread(L);                            /* 4 */
    if (!lua_checkstack(co, nargs + 4)) return luaL_error(L, "curio: too many arguments");
    lua_pushcfunction(co, l_task_body);
    lua_pushvalue(L, 2);
    lua_rawgeti(L, LUA_REGISTRYINDEX, h->msgh_ref);
    lua_rawgeti(L, 2, SLOT_FN);
    for (int i = 1; i <= nargs; i++) {
        lua_rawgeti(L, 2, NSLOTS + i);
        lua_pushnil(L);
        lua_rawseti(L, 2, NSLOTS + i);
    }
    lua_xmove(L, co, nargs + 3);
    lua_pushvalue(L, 4);
    lua_rawseti(L, 2, SLOT_CO);
    lua_pushlightuserdata(L, co);
    return 1;
}

lua_State *cl_start_task(lua_State *L, int ref) {
    curio_host *h = host_of(L);
    if (!lua_checkstack(L, 4)) return NULL;
    int top = lua_gettop(L);
    lua_pushcfunction(L, start_task_p);
    lua_pushinteger(L, ref);
    lua_State *co = NULL;
    if (lua_pcall(L, 1, 1, 0) == LUA_OK) {
        co = lua_touserdata(L, -1);
    } else if (h) {
        const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object)";
        snprintf(h->errbuf, sizeof h->errbuf, "%s", m);
    }
    lua_settop(L, top);
    return co;
}

static int l_spawn(lua_State *L) { return spawn_task(L, "spawn", 0, 0); }
static int l_spawn_daemon(lua_State *L) { return spawn_task(L, "spawn_daemon", 1, 0); }
static int l_spawn_main(lua_State *L) { return spawn_task(L, "spawn", 0, 1); }

/* finisher(task, false, error): the error on top of the dead coroutine co, or (co
   NULL: it could not be made) the message in host->errbuf. */
static int fail_p(lua_State *L) {
    lua_State *co = lua_touserdata(L, 1);
    int ref = (int)lua_tointeger(L, 2);
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, host_of(L)->finisher_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
    lua_pushboolean(L, 0);
    if (co) lua_xmove(co, L, 1);
    else lua_pushstring(L, host_of(L)->errbuf);
    lua_call(L, 3, 0);
    return 0;
}

int cl_pcall_into(lua_State *L, int nargs, int top, char *err, size_t errlen) {
    int rc = 0;
    if (lua_pcall(L, nargs, 0, 0) != LUA_OK) {
        if (err && errlen) {
            const char *m = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(error object)";
            snprintf(err, errlen, "%s", m);
        }
        rc = -1;
    }
    lua_settop(L, top);
    return rc;
}

int cl_fail_task(lua_State *L, lua_State *co, int ref, char *err, size_t errlen) {
    if (!lua_checkstack(L, 6)) return -1;
    int top = lua_gettop(L);
    lua_pushcfunction(L, fail_p);
    lua_pushlightuserdata(L, co);
    lua_pushinteger(L, ref);
    return cl_pcall_into(L, 2, top, err, errlen);
}

int cl_end_task(lua_State *L, int ref, int64_t cycles) {
    /* Cannot raise: it only stores into slots that already exist (the Task's
       coroutine slot, the reference and the registry's free-list head), which never
       allocates. Dropping the dead coroutine lets the collector take it even while
       its Task is kept (joined later, or in a list); the slot keeps the task's
       final cycle count instead. A task whose end could not be recorded (out of
       memory) is marked done all the same: join then says so. */
    if (!lua_checkstack(L, 3)) return -1;
    if (lua_rawgeti(L, LUA_REGISTRYINDEX, ref) == LUA_TTABLE) {
        lua_pushinteger(L, (lua_Integer)cycles);
        lua_rawseti(L, -2, SLOT_CO);
        if (lua_rawgeti(L, -1, SLOT_DONE) == LUA_TBOOLEAN && !lua_toboolean(L, -1)) {
            lua_pushboolean(L, 1);
            lua_rawseti(L, -3, SLOT_DONE);
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    luaL_unref(L, LUA_REGISTRYINDEX, ref);
    return 0;
}

int l_strerror_impl(lua_State *L);
#define l_strerror l_strerror_impl
int l_errname_impl(lua_State *L);
int l_listdir_impl(lua_State *L);
int l_isdir_impl(lua_State *L);
int l_exepath_impl(lua_State *L);
int l_getpid_impl(lua_State *L);
int l_isatty_impl(lua_State *L);
int l_trim_memory(lua_State *L);
#define l_errname l_errname_impl

int luaopen_curio_core(lua_State *L) {
    static const luaL_Reg fns[] = {
        {"kcall", l_kcall},
        {"spawn", l_spawn},
        {"spawn_daemon", l_spawn_daemon},
        {"spawn_main", l_spawn_main},
        {"set_task_class", l_set_task_class},
        {"set_spawn_hook", l_set_spawn_hook},
        {"task_body", l_task_body},
        {"trap", l_trap},
        {"sleep", l_sleep},
        {"wake_at", l_wake_at},
        {"schedule", l_schedule},
        {"set_raiser", l_set_raiser},
        {"strerror", l_strerror},
        {"errname", l_errname},
        {"listdir", l_listdir_impl},
        {"isdir", l_isdir_impl},
        {"exepath", l_exepath_impl},
        {"getpid", l_getpid_impl},
        {"isatty", l_isatty_impl},
        {"trim_memory", l_trim_memory},
        {NULL, NULL},
    };
    luaL_newlib(L, fns);
    lua_pushlightuserdata(L, cl_trap_sentinel());
    lua_setfield(L, -2, "TRAP");
    lua_pushliteral(L, LUA_COPYRIGHT); /* the library's own release, for -v */
    lua_setfield(L, -2, "LUA_COPYRIGHT");
    /* core.K, core.T, core.S: the numbers of curio_ops.h by name */
#define ROW(N, s, v) lua_pushinteger(L, v); lua_setfield(L, -2, #N);
    lua_newtable(L); CURIO_KCALLS(ROW) lua_setfield(L, -2, "K");
    lua_newtable(L); CURIO_TRAPS(ROW) lua_setfield(L, -2, "T");
    lua_newtable(L); CURIO_STATUSES(ROW) lua_setfield(L, -2, "S");
#undef ROW
    return 1;
}
